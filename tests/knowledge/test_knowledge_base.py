"""Every shipped explainer, guide and the roadmap load and follow docs/knowledge-format.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.core.content import STAGE_CONCEPTS, STAGE_IDS, load_roadmap, split_front_matter

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE = ROOT / "knowledge"
CONCEPTS_DIR = KNOWLEDGE / "concepts"

SECTIONS = (
    "Intuition",
    "The math that matters",
    "In code",
    "Common pitfalls",
    "Check yourself",
    "Further resources",
)
MIN_PROSE_WORDS = 600
PYTHON_LANGS = {"python", "py", "python3"}
GUIDE_KINDS = {
    "prerequisites": "roadmap",
    "career-paths": "career",
    "pro-tips": "tip",
    "faq": "faq",
}
CONCEPT_CASES = [(stage, concept) for stage, concepts in STAGE_CONCEPTS.items() for concept in concepts]
CONCEPT_IDS = [f"{stage}/{concept}" for stage, concept in CONCEPT_CASES]
FENCE = re.compile(r"^\s*(```|~~~)")


def _split_fences(body: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Split a Markdown body into prose lines and fenced blocks (language, code)."""
    prose: list[str] = []
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    lang = ""
    code: list[str] = []
    for line in body.splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            lang = line.strip()[3:].strip().split(" ")[0].lower()
            code = []
        elif fence is not None and line.strip().startswith(fence) and not line.strip()[3:].strip():
            blocks.append((lang, "\n".join(code)))
            fence = None
        elif fence is not None:
            code.append(line)
        else:
            prose.append(line)
    assert fence is None, f"a ``` fence (language {lang!r}) is never closed"
    return prose, blocks


def _read(path: Path) -> tuple[str, str, str]:
    """Return (stage, concept, body) after checking the common front-matter rules."""
    assert path.is_file(), f"missing {path.relative_to(ROOT)}"
    meta, body, _ = split_front_matter(path.read_text(encoding="utf-8"), str(path))
    assert meta.title.strip(), f"{path.relative_to(ROOT)}: front matter has no title"
    return meta.stage, meta.concept, body


def test_roadmap_has_the_five_stages_and_every_concept_in_teaching_order() -> None:
    roadmap = load_roadmap(KNOWLEDGE)
    assert tuple(stage.id for stage in roadmap.stages) == STAGE_IDS
    assert [stage.order for stage in roadmap.stages] == list(range(1, len(STAGE_IDS) + 1))
    for stage in roadmap.stages:
        assert stage.concepts == STAGE_CONCEPTS[stage.id], f"stage {stage.id}: concepts out of order"


def test_concept_folder_holds_only_known_explainers() -> None:
    expected = {CONCEPTS_DIR / stage / f"{concept}.md" for stage, concept in CONCEPT_CASES}
    found = {path for path in CONCEPTS_DIR.rglob("*") if path.is_file()}
    assert sorted(found - expected) == [], "files under knowledge/concepts that are not a known concept"
    assert len(expected) == 34


@pytest.mark.parametrize(("stage", "concept"), CONCEPT_CASES, ids=CONCEPT_IDS)
def test_explainer_front_matter_matches_its_path(stage: str, concept: str) -> None:
    path = CONCEPTS_DIR / stage / f"{concept}.md"
    meta, _, _ = split_front_matter(path.read_text(encoding="utf-8"), str(path))
    assert (meta.stage, meta.concept, meta.kind) == (stage, concept, "concept")
    assert meta.title.strip()


@pytest.mark.parametrize(("stage", "concept"), CONCEPT_CASES, ids=CONCEPT_IDS)
def test_explainer_has_the_six_sections_in_order(stage: str, concept: str) -> None:
    _, _, body = _read(CONCEPTS_DIR / stage / f"{concept}.md")
    prose, _ = _split_fences(body)
    headings = [line[3:].strip() for line in prose if line.startswith("## ")]
    assert tuple(headings) == SECTIONS
    titles = [line for line in prose if line.startswith("# ")]
    assert len(titles) <= 1, f"more than one top-level '#' heading: {titles}"


@pytest.mark.parametrize(("stage", "concept"), CONCEPT_CASES, ids=CONCEPT_IDS)
def test_explainer_has_enough_prose(stage: str, concept: str) -> None:
    _, _, body = _read(CONCEPTS_DIR / stage / f"{concept}.md")
    prose, _ = _split_fences(body)
    words = [w for w in " ".join(prose).split() if re.search(r"[A-Za-z0-9]", w)]
    assert len(words) >= MIN_PROSE_WORDS, f"{len(words)} prose words; at least {MIN_PROSE_WORDS} required"


@pytest.mark.parametrize(("stage", "concept"), CONCEPT_CASES, ids=CONCEPT_IDS)
def test_explainer_python_blocks_parse(stage: str, concept: str) -> None:
    path = CONCEPTS_DIR / stage / f"{concept}.md"
    _, _, body = _read(path)
    _, blocks = _split_fences(body)
    failures = []
    for index, (lang, code) in enumerate(blocks):
        if lang not in PYTHON_LANGS:
            continue
        try:
            ast.parse(code)
        except SyntaxError as exc:
            where = f"{path.relative_to(ROOT)} block {index}"
            failures.append(f"{where} (line {exc.lineno} of the block): {exc.msg}")
    assert failures == []


@pytest.mark.parametrize(("stage", "concept"), CONCEPT_CASES, ids=CONCEPT_IDS)
def test_explainer_check_yourself_is_a_list_of_questions(stage: str, concept: str) -> None:
    _, _, body = _read(CONCEPTS_DIR / stage / f"{concept}.md")
    section = body.split("## Check yourself", 1)[1].split("\n## ", 1)[0]
    bullets = [line for line in section.splitlines() if re.match(r"^\s*([-*]|\d+\.)\s", line)]
    assert bullets, "'Check yourself' has no bullet list"


@pytest.mark.parametrize(("name", "kind"), sorted(GUIDE_KINDS.items()), ids=sorted(GUIDE_KINDS))
def test_guide_exists_with_its_kind_and_no_stage(name: str, kind: str) -> None:
    path = KNOWLEDGE / "guides" / f"{name}.md"
    stage, concept, body = _read(path)
    meta, _, _ = split_front_matter(path.read_text(encoding="utf-8"), str(path))
    assert meta.kind == kind
    assert (stage, concept) == ("", "")
    assert body.strip()


def test_faq_entries_are_questions() -> None:
    _, _, body = _read(KNOWLEDGE / "guides" / "faq.md")
    prose, _ = _split_fences(body)
    headings = [line[3:].strip() for line in prose if line.startswith("## ")]
    assert headings, "the FAQ has no '##' entries"
    assert [h for h in headings if "?" not in h] == [], "FAQ headings must be phrased as questions"
