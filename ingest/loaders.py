"""Parse Markdown/MDX, reStructuredText, HTML, PDF and plain text into sections."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import PurePath

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from bot.core.content import CONCEPT_STAGE, STAGE_CONCEPTS, ContentError, split_front_matter
from ingest.documents import LoadError, Section

Parsed = tuple[dict[str, str], list[Section]]

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MDX_LINE = re.compile(r"^\s*(import\s.+\sfrom\s.+|export\s.+)$")
_JSX_SELF_CLOSING = re.compile(r"<[A-Z][A-Za-z0-9.]*(\s[^<>]*)?/>")


def _decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(source, f"not UTF-8 text (byte {exc.start} cannot be decoded)") from exc
    if "\x00" in text:
        raise LoadError(source, "contains NUL bytes: this looks like a binary file")
    return text


def _clean_md(text: str) -> str:
    return _LINK.sub(r"\1", text).strip()


def parse_markdown(data: bytes, source: str, mdx: bool = False) -> Parsed:
    """Sections by heading (ATX and setext; `#` inside code fences is not a heading)."""
    text = _decode(data, source)
    try:
        meta, body, offset = split_front_matter(text, source)
    except ContentError as exc:
        raise LoadError(source, exc.args[0].split(": ", 1)[-1], exc.line) from exc
    if mdx:
        body = "\n".join("" if _MDX_LINE.match(line) else _JSX_SELF_CLOSING.sub("", line) for line in body.split("\n"))
    lines = body.split("\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    buf: list[str] = []
    start: int | None = None

    def flush() -> None:
        content = _clean_md("\n\n".join(buf))
        if content:
            sections.append(Section(tuple(h for _, h in path), content, start))
        buf.clear()

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            flush()
            level = int(tok.tag[1])
            title = _clean_md(tokens[i + 1].content)
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, title)]
            start = (tok.map[0] + 1 + offset) if tok.map else None
            i += 3
            continue
        if tok.level == 0 and tok.map and tok.nesting in (0, 1):
            a, b = tok.map
            if start is None:
                start = a + 1 + offset
            buf.append("\n".join(lines[a:b]).rstrip())
            # skip to the matching close token of this block
            if tok.nesting == 1:
                i += 1
                while i < len(tokens) and not (tokens[i].level == 0 and tokens[i].nesting == -1):
                    i += 1
        i += 1
    flush()
    info = {k: str(getattr(meta, k)) for k in ("stage", "concept", "title", "kind")}
    return info, sections


def parse_text(data: bytes, source: str) -> Parsed:
    text = _decode(data, source).strip()
    return {}, [Section((), text, 1)] if text else []


def parse_rst(data: bytes, source: str) -> Parsed:
    """Sections from docutils' doctree; unknown Sphinx roles/directives are tolerated."""
    from docutils import nodes
    from docutils.core import publish_doctree

    text = _decode(data, source)
    try:
        tree = publish_doctree(
            text,
            settings_overrides={
                "report_level": 5,
                "halt_level": 5,
                "file_insertion_enabled": False,
                "raw_enabled": False,
                "warning_stream": io.StringIO(),
            },
        )
    except Exception as exc:  # docutils raises many types on broken input
        raise LoadError(source, f"cannot parse reStructuredText: {exc}") from exc
    sections: list[Section] = []
    title = ""
    doc_title = tree.next_node(nodes.title)
    if doc_title is not None and isinstance(doc_title.parent, nodes.document):
        title = doc_title.astext()

    def walk(node: nodes.Node, path: tuple[str, ...]) -> None:
        parts: list[str] = []
        line: int | None = None

        def flush() -> None:
            content = "\n\n".join(p for p in parts if p)
            if content:
                sections.append(Section(path, content, line))
            parts.clear()

        for child in node.children:
            if isinstance(child, nodes.section):
                flush()
                heading = child.next_node(nodes.title)
                walk(child, (*path, heading.astext() if heading is not None else ""))
            elif isinstance(child, nodes.title | nodes.system_message | nodes.comment):
                continue
            elif isinstance(child, nodes.Element):
                parts.append(child.astext().strip())
                line = line or child.line
        flush()

    walk(tree, (title,) if title else ())
    return {"title": title}, sections


_BLOCKS = ("p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_NOISE = ("script", "style", "noscript", "nav", "footer", "aside", "form", "svg", "iframe", "button")


def parse_html(data: bytes, source: str) -> Parsed:
    """Readable text of the page's main content, sectioned by its headings."""
    soup = BeautifulSoup(data, "html.parser")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_NOISE):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    buf: list[str] = []

    def flush() -> None:
        content = "\n\n".join(buf).strip()
        if content:
            sections.append(Section(tuple(h for _, h in path), content, None))
        buf.clear()

    for el in root.find_all((*_HEADINGS, *_BLOCKS)):
        if el.name in _HEADINGS:
            flush()
            level = int(el.name[1])
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, el.get_text(" ", strip=True))]
        elif el.find_parent(_BLOCKS) is None:
            text = el.get_text("\n" if el.name == "pre" else " ", strip=el.name != "pre")
            if text.strip():
                buf.append(text.strip())
    flush()
    if not sections:
        text = root.get_text(" ", strip=True)
        if text:
            sections.append(Section((), text, None))
    first_h1 = root.find("h1")
    title = page_title or (first_h1.get_text(" ", strip=True) if first_h1 else "")
    return {"title": title}, sections


def parse_pdf(data: bytes, source: str) -> Parsed:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoadError(source, "the PDF is encrypted; export an unlocked copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(source, f"cannot read PDF: {exc}") from exc
    sections = [
        Section((f"Page {n}",), re.sub(r"[ \t]+", " ", text).strip(), None)
        for n, text in enumerate(pages, start=1)
        if text.strip()
    ]
    if not sections:
        raise LoadError(source, "the PDF has no extractable text (a scanned image? run OCR first)")
    return {"title": str(title)}, sections


PARSERS: dict[str, Callable[[bytes, str], Parsed]] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".mdx": lambda data, source: parse_markdown(data, source, mdx=True),
    ".rst": parse_rst,
    ".txt": parse_text,
    ".text": parse_text,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
}
SUPPORTED_SUFFIXES = tuple(sorted(PARSERS))


def metadata_from_path(path: PurePath) -> dict[str, str]:
    """Stage/concept from the folders a file sits in (`.../classical-ml/bias-variance/x.md`)."""
    found: dict[str, str] = {}
    for part in (*path.parent.parts, path.stem):
        if part in STAGE_CONCEPTS:
            found["stage"] = part
        elif part in CONCEPT_STAGE:
            found["concept"] = part
            found.setdefault("stage", CONCEPT_STAGE[part])
    return found
