"""Schemas and loaders for the bundled knowledge: roadmap.yaml and Markdown front matter."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.core.models import KINDS

# The ids of ROADMAP_SPEC.md, in teaching order. Ids never change: progress is keyed on them.
STAGE_CONCEPTS: dict[str, tuple[str, ...]] = {
    "classical-ml": (
        "supervised-unsupervised",
        "linear-logistic-regression",
        "trees-forests",
        "evaluation-metrics",
        "bias-variance",
        "cross-validation",
        "feature-engineering",
    ),
    "deep-learning": (
        "neural-network-architecture",
        "backpropagation",
        "training-dynamics",
        "cnns",
        "gpus-cuda",
        "hyperparameter-tuning",
        "dl-frameworks",
    ),
    "specialization": (
        "transformers",
        "transfer-learning",
        "nlp-foundations",
        "computer-vision",
        "sequence-models",
        "hugging-face",
        "reinforcement-learning",
    ),
    "mlops": (
        "model-deployment",
        "pipeline-orchestration",
        "versioning",
        "monitoring-drift",
        "experiment-tracking",
        "ci-cd-ml",
        "scalability-cost",
    ),
    "capstone": (
        "project-lifecycle",
        "research-papers",
        "open-source",
        "ml-system-design",
        "interview-prep",
        "portfolio",
    ),
}
STAGE_IDS: tuple[str, ...] = tuple(STAGE_CONCEPTS)
CONCEPT_STAGE: dict[str, str] = {c: s for s, cs in STAGE_CONCEPTS.items() for c in cs}


class ContentError(ValueError):
    """A content file is malformed. The message names the file and, where known, the line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resource(_Strict):
    title: str = Field(min_length=3)
    kind: Literal["course", "docs", "book", "practice", "video", "paper", "community"]
    note: str = Field(min_length=3)
    url: str | None = None


class Milestone(_Strict):
    title: str = Field(min_length=3)
    description: str = Field(min_length=20)
    checklist: tuple[str, ...] = Field(min_length=3)
    requires_review: bool = False


class Stage(_Strict):
    id: str
    order: int = Field(ge=1)
    title: str
    weeks: tuple[int, int]
    summary: str = Field(min_length=20)
    concepts: tuple[str, ...]
    resources: tuple[Resource, ...] = Field(min_length=1)
    milestone: Milestone


class Prerequisite(_Strict):
    id: str
    title: str
    why: str


class Salary(_Strict):
    min: int = Field(gt=0)
    max: int = Field(gt=0)
    open_ended: bool = False


class CareerPath(_Strict):
    id: str
    title: str
    salary_usd: Salary
    demand: Literal["very-high", "high", "growing"]
    summary: str
    key_stages: tuple[str, ...] = Field(min_length=1)


class Roadmap(_Strict):
    version: int
    title: str
    duration_months: tuple[int, int]
    summary: str
    prerequisites: tuple[Prerequisite, ...] = Field(min_length=1)
    stages: tuple[Stage, ...]
    career_paths: tuple[CareerPath, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_match_spec(self) -> Roadmap:
        ids = tuple(s.id for s in self.stages)
        if ids != STAGE_IDS:
            raise ValueError(f"stages must be {list(STAGE_IDS)} in order, got {list(ids)}")
        for stage in self.stages:
            expected = STAGE_CONCEPTS[stage.id]
            missing = [c for c in expected if c not in stage.concepts]
            if missing:
                raise ValueError(f"stage {stage.id} lacks concepts {missing}")
            unknown = [c for c in stage.concepts if CONCEPT_STAGE.get(c, stage.id) != stage.id]
            if unknown:
                raise ValueError(f"stage {stage.id} lists concepts of other stages: {unknown}")
            if stage.weeks[0] > stage.weeks[1]:
                raise ValueError(f"stage {stage.id}: weeks {stage.weeks} run backwards")
        for path in self.career_paths:
            bad = [s for s in path.key_stages if s not in STAGE_IDS]
            if bad:
                raise ValueError(f"career path {path.id}: unknown stages {bad}")
        return self

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)


class FrontMatter(BaseModel):
    """Metadata at the top of a Markdown document; unknown keys are kept but ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)
    stage: str = ""
    concept: str = ""
    title: str = ""
    kind: str = ""

    @model_validator(mode="after")
    def _known_ids(self) -> FrontMatter:
        if self.stage and self.stage not in STAGE_CONCEPTS:
            raise ValueError(f"unknown stage {self.stage!r}; use one of {list(STAGE_IDS)}")
        if self.concept and self.concept not in CONCEPT_STAGE:
            raise ValueError(f"unknown concept {self.concept!r}")
        if self.concept and self.stage and CONCEPT_STAGE[self.concept] != self.stage:
            raise ValueError(f"concept {self.concept!r} belongs to stage {CONCEPT_STAGE[self.concept]!r}")
        if self.kind and self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; use one of {list(KINDS)}")
        return self


def _yaml_error(path: str, exc: yaml.YAMLError, line_offset: int = 0) -> ContentError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 + line_offset if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    return ContentError(path, f"invalid YAML: {problem}", line)


def split_front_matter(text: str, path: str) -> tuple[FrontMatter, str, int]:
    """Split `---` front matter from a Markdown text.

    Returns (front matter, body, number of lines before the body). Raises ContentError with
    the file and line on malformed YAML or unknown ids.
    """
    if not text.startswith("---"):
        return FrontMatter(), text, 0
    lines = text.splitlines(keepends=True)
    if lines[0].strip() != "---":
        return FrontMatter(), text, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise ContentError(path, "front matter opened with '---' is never closed", 1)
    raw = "".join(lines[1:end])
    try:
        data = yaml.load(raw, Loader=_LOADER) or {}
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc, line_offset=1) from exc
    if not isinstance(data, dict):
        raise ContentError(path, "front matter must be a mapping of keys to values", 2)
    data = {k: ("" if v is None else v) for k, v in data.items()}
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        raise ContentError(path, f"front matter: {_first_error(exc)}", 2) from exc
    return meta, "".join(lines[end + 1 :]), end + 1


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


# libyaml's safe loader when PyYAML was built with it (about 10× faster on the question bank).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> object:
    """Parse a YAML file; errors name the file and line."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise _yaml_error(str(path), exc) from exc
    except UnicodeDecodeError as exc:
        raise ContentError(str(path), "not UTF-8 text") from exc


def load_roadmap(knowledge_dir: Path) -> Roadmap:
    """Load and validate `roadmap.yaml` from the knowledge directory."""
    path = knowledge_dir / "roadmap.yaml"
    if not path.is_file():
        raise ContentError(str(path), "missing: the knowledge directory has no roadmap.yaml")
    data = load_yaml(path)
    try:
        return Roadmap.model_validate(data)
    except ValidationError as exc:
        raise ContentError(str(path), _first_error(exc)) from exc
