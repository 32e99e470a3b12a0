"""Retrieval evaluation: hit@1, hit@k, MRR and abstention precision/recall over a YAML eval set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.content import CONCEPT_STAGE, ContentError, load_yaml
from bot.core.models import SearchHit

Split = Literal["all", "calibration", "heldout"]


class InScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    q: str = Field(min_length=3)
    concepts: tuple[str, ...] = Field(min_length=1)

    @field_validator("concepts")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CONCEPT_STAGE]
        if unknown:
            raise ValueError(f"unknown concept ids {unknown}")
        return value


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    in_scope: tuple[InScope, ...] = ()
    out_of_scope: tuple[str, ...] = ()

    def split(self, which: Split) -> EvalSet:
        """Calibration = even positions, held-out = odd positions, of each list."""
        if which == "all":
            return self
        start = 0 if which == "calibration" else 1
        return EvalSet(in_scope=self.in_scope[start::2], out_of_scope=self.out_of_scope[start::2])


def load_eval_set(path: Path) -> EvalSet:
    if not path.is_file():
        raise ContentError(str(path), "no such file")
    data = load_yaml(path)
    try:
        return EvalSet.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ContentError(str(path), f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from exc


@dataclass
class EvalResult:
    """Metrics in 0..1; `misses` lists in-scope questions without a hit and wrong abstentions."""

    k: int
    n_in_scope: int
    n_out_of_scope: int
    hit_at_1: float
    hit_at_k: float
    mrr: float
    abstain_precision: float
    abstain_recall: float
    in_scope_abstain_rate: float
    misses: list[dict[str, object]] = field(default_factory=list)

    def as_json(self, with_misses: bool = True) -> dict[str, object]:
        data: dict[str, object] = {
            "hit_at_1": round(self.hit_at_1, 4),
            "hit_at_k": round(self.hit_at_k, 4),
            "mrr": round(self.mrr, 4),
            "abstain_precision": round(self.abstain_precision, 4),
            "abstain_recall": round(self.abstain_recall, 4),
            "in_scope_abstain_rate": round(self.in_scope_abstain_rate, 4),
            "k": self.k,
            "n_in_scope": self.n_in_scope,
            "n_out_of_scope": self.n_out_of_scope,
        }
        if with_misses:
            data["misses"] = self.misses
        return data


Search = Callable[[str, int], Awaitable[list[SearchHit]]]


async def evaluate(search: Search, evalset: EvalSet, k: int, abstains: Callable[[list[SearchHit]], bool]) -> EvalResult:
    """Run every question through `search` and score ranking and abstention."""
    hits1 = hitsk = 0
    rr = 0.0
    misses: list[dict[str, object]] = []
    wrong_abstain = right_abstain = 0
    for item in evalset.in_scope:
        hits = await search(item.q, k)
        got = [h.chunk.concept for h in hits[:k]]
        rank = next((i for i, c in enumerate(got, start=1) if c in item.concepts), None)
        if rank == 1:
            hits1 += 1
        if rank is not None:
            hitsk += 1
            rr += 1.0 / rank
        else:
            misses.append({"q": item.q, "expected": list(item.concepts), "got": got})
        if abstains(hits):
            wrong_abstain += 1
            misses.append({"q": item.q, "problem": "abstained on an in-scope question"})
    for q in evalset.out_of_scope:
        hits = await search(q, k)
        if abstains(hits):
            right_abstain += 1
        else:
            misses.append(
                {"q": q, "problem": "answered an out-of-scope question", "got": [h.chunk.concept for h in hits[:3]]}
            )
    n_in = len(evalset.in_scope)
    n_out = len(evalset.out_of_scope)
    total_abstain = wrong_abstain + right_abstain
    return EvalResult(
        k=k,
        n_in_scope=n_in,
        n_out_of_scope=n_out,
        hit_at_1=hits1 / n_in if n_in else 0.0,
        hit_at_k=hitsk / n_in if n_in else 0.0,
        mrr=rr / n_in if n_in else 0.0,
        abstain_precision=right_abstain / total_abstain if total_abstain else 1.0,
        abstain_recall=right_abstain / n_out if n_out else 1.0,
        in_scope_abstain_rate=wrong_abstain / n_in if n_in else 0.0,
        misses=misses,
    )


def calibrate_threshold(in_scope: list[float], out_of_scope: list[float], max_in_scope_abstain: float = 0.08) -> float:
    """The abstention threshold (abstain when confidence < it) that catches the most out-of-scope
    questions while abstaining on at most `max_in_scope_abstain` of the in-scope ones."""
    if not in_scope:
        raise ValueError("calibration needs in-scope questions")
    ordered = sorted(in_scope)
    allowed = int(max_in_scope_abstain * len(ordered))
    # Everything strictly below ordered[allowed] is abstained on: exactly `allowed` in-scope items at most.
    ceiling = ordered[allowed]
    below = [c for c in out_of_scope if c < ceiling]
    floor = max(below) if below else ceiling - 0.01
    return round(min(ceiling - 0.001, max(floor + 0.001, ceiling - 0.01)), 3)
