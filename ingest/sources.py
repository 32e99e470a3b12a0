"""Find the documents behind an ingest root (bundled knowledge, a folder, a file, a URL) and load them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from bot.core.content import ContentError, Roadmap, load_roadmap, split_front_matter
from bot.core.models import KINDS
from ingest.documents import Document, LoadError, Section
from ingest.loaders import PARSERS, SUPPORTED_SUFFIXES, metadata_from_path

BUNDLED_ROOT = "knowledge/"
ROADMAP_SOURCE = "knowledge/roadmap.yaml"
# The question bank must never be indexed: the mentor must not be able to hand out keys.
EXCLUDED_DIRS = frozenset({"questions"})
CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
    "text/x-rst": ".rst",
}


@dataclass(frozen=True)
class SourceRef:
    """One document to load: a file on disk or a URL."""

    source: str
    root: str
    path: Path | None = None
    url: str | None = None


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise_root(target: str, knowledge_dir: Path) -> str:
    """The root key stored with sources: bundled, an absolute path, or the URL."""
    if is_url(target):
        return target
    path = Path(target).expanduser().resolve()
    if path == knowledge_dir.resolve():
        return BUNDLED_ROOT
    return str(path)


def scan_root(root: str, knowledge_dir: Path) -> tuple[list[SourceRef], list[str], list[LoadError]]:
    """The documents under `root`, notes about skipped files, and errors for a bad root."""
    if is_url(root):
        return [SourceRef(source=root, root=root, url=root)], [], []
    base = knowledge_dir if root == BUNDLED_ROOT else Path(root)
    if not base.exists():
        return [], [], [LoadError(root, "no such file or directory")]
    if base.is_file():
        if base.suffix.lower() not in PARSERS:
            return [], [], [LoadError(root, _unsupported(base))]
        return [SourceRef(source=str(base), root=root, path=base)], [], []
    refs: list[SourceRef] = []
    notes: list[str] = []
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if root == BUNDLED_ROOT and (rel.parts[0] in EXCLUDED_DIRS or rel.as_posix() == "roadmap.yaml"):
            continue
        if path.suffix.lower() not in PARSERS:
            notes.append(f"{path}: skipped ({_unsupported(path)})")
            continue
        source = f"{BUNDLED_ROOT}{rel.as_posix()}" if root == BUNDLED_ROOT else str(path)
        refs.append(SourceRef(source=source, root=root, path=path))
    if root == BUNDLED_ROOT and (knowledge_dir / "roadmap.yaml").is_file():
        refs.append(SourceRef(source=ROADMAP_SOURCE, root=root, path=knowledge_dir / "roadmap.yaml"))
    if not refs and not notes:
        notes.append(f"{root}: no documents found")
    return refs, notes, []


def _unsupported(path: Path) -> str:
    suffix = path.suffix or "(no extension)"
    return f"unsupported file type {suffix}; supported: {', '.join(SUPPORTED_SUFFIXES)}"


def read_bytes(ref: SourceRef, timeout: float, max_bytes: int) -> tuple[bytes, str]:
    """The raw bytes of a source and the parser suffix to use."""
    if ref.url is not None:
        return fetch_url(ref.url, timeout, max_bytes)
    assert ref.path is not None
    try:
        data = ref.path.read_bytes()
    except OSError as exc:
        raise LoadError(ref.source, f"cannot read: {exc.strerror or exc}") from exc
    return data, ref.path.suffix.lower()


def fetch_url(url: str, timeout: float, max_bytes: int) -> tuple[bytes, str]:
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5) as client,
            client.stream("GET", url, headers={"User-Agent": "ml-mentor-ingest/0.1"}) as resp,
        ):
            if resp.status_code >= 400:
                raise LoadError(url, f"the server answered HTTP {resp.status_code}")
            body = bytearray()
            for part in resp.iter_bytes():
                body.extend(part)
                if len(body) > max_bytes:
                    raise LoadError(url, f"larger than {max_bytes} bytes (MENTOR_URL_MAX_BYTES)")
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    except httpx.TimeoutException as exc:
        raise LoadError(url, f"unreachable: timed out after {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise LoadError(url, f"unreachable: {exc}") from exc
    suffix = CONTENT_TYPES.get(ctype) or PurePosixPath(httpx.URL(url).path).suffix.lower()
    if suffix not in PARSERS:
        raise LoadError(url, f"unsupported content type {ctype or 'unknown'}")
    return bytes(body), suffix


def load_document(ref: SourceRef, data: bytes, suffix: str, digest: str) -> list[Document]:
    """Parse one file or page (`digest` is its content hash). roadmap.yaml goes through `roadmap_documents`."""
    if not data.strip():
        raise LoadError(ref.source, "empty file")
    meta, sections = PARSERS[suffix](data, ref.source)
    if not sections:
        raise LoadError(ref.source, "no text found")
    bundled = ref.root == BUNDLED_ROOT
    path_meta = metadata_from_path(PurePosixPath(ref.path.as_posix())) if ref.path else {}
    kind = meta.get("kind") or ("" if bundled else "resource")
    if not kind:
        raise LoadError(ref.source, f"front matter needs a `kind` (one of {', '.join(KINDS)})", 2)
    stem = ref.path.stem if ref.path else ref.source
    return [
        Document(
            source=ref.source,
            root=ref.root,
            kind=kind,
            stage=meta.get("stage") or path_meta.get("stage", ""),
            concept=meta.get("concept") or path_meta.get("concept", ""),
            title=meta.get("title") or stem,
            content_hash=digest,
            sections=tuple(sections),
        )
    ]


def concept_titles(knowledge_dir: Path) -> dict[str, str]:
    """Concept id → explainer title, read from the explainers' front matter."""
    titles: dict[str, str] = {}
    for path in sorted((knowledge_dir / "concepts").glob("*/*.md")):
        try:
            meta, _, _ = split_front_matter(path.read_text(encoding="utf-8"), str(path))
        except (ContentError, OSError, UnicodeDecodeError):
            continue
        if meta.concept:
            titles[meta.concept] = meta.title
    return titles


def roadmap_documents(roadmap: Roadmap, root: str, digest: str, titles: dict[str, str] | None = None) -> list[Document]:
    titles = titles or {}
    docs: list[Document] = []
    for stage in roadmap.stages:
        concepts = "\n".join(f"{i}. {titles.get(c, c)}" for i, c in enumerate(stage.concepts, start=1))
        resources = "\n".join(f"- {r.title} ({r.kind}): {r.note}" for r in stage.resources)
        checklist = "\n".join(f"- {item}" for item in stage.milestone.checklist)
        head = (f"Stage {stage.order}: {stage.title}",)
        sections = (
            Section(head, f"Weeks {stage.weeks[0]}–{stage.weeks[1]}. {stage.summary}"),
            Section((*head, "Concepts in teaching order"), concepts),
            Section((*head, "Recommended resources"), resources),
            Section(
                (*head, f"Milestone: {stage.milestone.title}"),
                f"{stage.milestone.description}\n\nA reviewer checks:\n{checklist}",
            ),
        )
        docs.append(
            Document(f"{ROADMAP_SOURCE}#{stage.id}", root, "roadmap", stage.id, "", stage.title, digest, sections)
        )
    career_sections = []
    for path in roadmap.career_paths:
        salary = f"${path.salary_usd.min:,}–${path.salary_usd.max:,}{'+' if path.salary_usd.open_ended else ''}"
        career_sections.append(
            Section(
                ("Career paths", path.title),
                f"{path.summary}\n\nTypical US salary range: {salary}. Market demand: {path.demand}. "
                f"Stages that matter most: {', '.join(path.key_stages)}.",
            )
        )
    docs.append(
        Document(
            f"{ROADMAP_SOURCE}#career-paths", root, "career", "", "", "Career paths", digest, tuple(career_sections)
        )
    )
    prereq = "\n".join(f"- {p.title}: {p.why}" for p in roadmap.prerequisites)
    docs.append(
        Document(
            f"{ROADMAP_SOURCE}#overview",
            root,
            "roadmap",
            "",
            "",
            roadmap.title,
            digest,
            (
                Section(
                    (roadmap.title,),
                    f"{roadmap.summary} Duration: {roadmap.duration_months[0]}–{roadmap.duration_months[1]} months.",
                ),
                Section((roadmap.title, "Prerequisites"), prereq),
            ),
        )
    )
    return docs


def load_bundled_roadmap(knowledge_dir: Path) -> Roadmap:
    try:
        return load_roadmap(knowledge_dir)
    except ContentError as exc:
        raise LoadError(exc.path, exc.args[0].split(": ", 1)[-1], exc.line) from exc
