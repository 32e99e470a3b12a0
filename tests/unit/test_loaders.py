"""Document loaders and chunking (no model: token counts are word counts here)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from ingest.chunking import chunk_document, chunk_id, split_section
from ingest.documents import Document, LoadError, Section
from ingest.loaders import metadata_from_path, parse_html, parse_markdown, parse_pdf, parse_rst, parse_text


def words(text: str) -> int:
    return len(text.split())


def test_markdown_sections_follow_headings_but_not_hashes_in_code() -> None:
    md = b"---\nstage: classical-ml\nconcept: bias-variance\ntitle: BV\nkind: concept\n---\n# BV\n\nIntro.\n\n## Fit\n\nSee [the docs](http://x).\n\n```python\n# not a heading\nx = 1\n```\n\n### Deeper\n\n- one\n- two\n"
    meta, sections = parse_markdown(md, "bv.md")
    assert meta == {"stage": "classical-ml", "concept": "bias-variance", "title": "BV", "kind": "concept"}
    assert [s.headings for s in sections] == [("BV",), ("BV", "Fit"), ("BV", "Fit", "Deeper")]
    assert (
        "# not a heading" in sections[1].text and "the docs" in sections[1].text and "http://x" not in sections[1].text
    )
    assert sections[1].line == 11


def test_front_matter_errors_name_the_line() -> None:
    with pytest.raises(LoadError) as err:
        parse_markdown(b"---\ntitle: ok\nstage: cooking\n---\n# x\n\ntext", "bad.md")
    assert err.value.line == 2 and "unknown stage 'cooking'" in str(err.value)
    with pytest.raises(LoadError, match="never closed"):
        parse_markdown(b"---\ntitle: x\n# body", "open.md")


def test_mdx_drops_imports_and_components() -> None:
    mdx = b"import Chart from './chart'\n\n# Loss curves\n\n<Chart data={x} />\n\nWatch validation loss.\n"
    _, sections = parse_markdown(mdx, "c.mdx", mdx=True)
    assert sections == [Section(("Loss curves",), "Watch validation loss.", sections[0].line)]


def test_rst_sections_in_document_order_tolerate_sphinx_roles() -> None:
    rst = b"Title\n=====\n\nIntro.\n\nPart A\n------\n\nUse :func:`fit` here.\n\n.. autoclass:: Model\n"
    meta, sections = parse_rst(rst, "a.rst")
    assert meta["title"] == "Title"
    assert [(s.headings, s.text) for s in sections] == [
        (("Title",), "Intro."),
        (("Title", "Part A"), "Use :func:`fit` here."),  # unknown Sphinx role kept as text
    ]


def test_html_keeps_main_content_only() -> None:
    page = b"<html><head><title>T</title><style>p{}</style></head><body><nav>Home | About</nav><main><h1>Strides</h1><p>A stride of 2 halves the size.</p><ul><li><p>nested</p></li></ul></main><footer>(c)</footer><script>track()</script></body></html>"
    meta, sections = parse_html(page, "p.html")
    assert meta["title"] == "T"
    text = " ".join(s.text for s in sections)
    assert "stride of 2" in text and "nested" in text
    assert "Home" not in text and "track" not in text and "(c)" not in text


def test_pdf_pages_become_sections(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["pdf.fonttype"] = 42
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    path = tmp_path / "notes.pdf"
    with PdfPages(path) as pdf:
        for line in ("Gradient clipping bounds the update norm.", "Weight decay shrinks the weights."):
            fig = plt.figure()
            fig.text(0.1, 0.5, line)
            pdf.savefig(fig)
            plt.close(fig)
    _, sections = parse_pdf(path.read_bytes(), str(path))
    assert [s.headings for s in sections] == [("Page 1",), ("Page 2",)]
    assert "clipping" in sections[0].text
    with pytest.raises(LoadError, match="cannot read PDF"):
        parse_pdf(b"%PDF-1.4 this is not really a pdf", "broken.pdf")


def test_binary_and_empty_text() -> None:
    with pytest.raises(LoadError, match="UTF-8"):
        parse_text(b"\xff\xfe\x00binary", "x.txt")
    assert parse_text(b"  \n ", "e.txt") == ({}, [])


def test_folder_names_give_stage_and_concept() -> None:
    assert metadata_from_path(PurePosixPath("/r/deep-learning/cnns/pool.md")) == {
        "stage": "deep-learning",
        "concept": "cnns",
    }
    assert metadata_from_path(PurePosixPath("/r/notes/bias-variance.md")) == {
        "concept": "bias-variance",
        "stage": "classical-ml",
    }


def test_chunks_stay_under_the_limit_with_overlap() -> None:
    para = " ".join(f"Sentence {i} explains one more detail about regularisation." for i in range(60))
    pieces = split_section(f"{para}\n\n{para}", limit=120, count=words, target=100)
    assert len(pieces) > 3
    assert all(words(p) <= 120 for p in pieces)
    assert pieces[1].split(".")[0] in pieces[0]  # the next piece starts with the previous one's tail


def test_one_enormous_token_is_still_split() -> None:
    pieces = split_section("x" * 5000, limit=10, count=lambda t: len(t) // 100 + 1)
    assert all(len(p) // 100 + 1 <= 10 for p in pieces)
    assert "".join(pieces) == "x" * 5000


def test_chunk_ids_depend_on_source_heading_and_text() -> None:
    doc = Document(
        "a.md",
        "root",
        "resource",
        "",
        "",
        "A",
        "h",
        (Section(("A", "B"), "Same text."), Section(("A", "B"), "Same text.")),
    )
    chunks = chunk_document(doc, words, 256)
    assert len({c.id for c in chunks}) == 2
    assert chunk_id("a.md", "A > B", "Same text.") != chunk_id("b.md", "A > B", "Same text.")
    assert chunks[0].title == "A > B"
