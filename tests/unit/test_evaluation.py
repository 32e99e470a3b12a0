"""Metric arithmetic of the eval harness and threshold calibration."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.content import ContentError
from bot.core.evaluation import EvalSet, InScope, calibrate_threshold, evaluate, load_eval_set
from bot.core.models import Chunk, SearchHit


def _hits(*concepts: str, sim: float = 0.6) -> list[SearchHit]:
    return [
        SearchHit(Chunk(f"c{i}", "s", i, "", c, "t", "concept", "x"), 1.0, dense_similarity=sim)
        for i, c in enumerate(concepts)
    ]


async def test_hit_rates_mrr_and_abstention() -> None:
    answers = {
        "qq1": _hits("bias-variance", "cnns"),
        "qq2": _hits("cnns", "bias-variance"),
        "qq3": _hits("cnns", "portfolio"),
        "pizza": _hits("cnns", sim=0.1),
        "git": _hits("cnns", sim=0.9),
    }

    async def search(q: str, k: int) -> list[SearchHit]:
        return answers[q][:k]

    evalset = EvalSet(
        in_scope=(
            InScope(q="qq1", concepts=("bias-variance",)),
            InScope(q="qq2", concepts=("bias-variance",)),
            InScope(q="qq3", concepts=("bias-variance",)),
        ),
        out_of_scope=("pizza", "git"),
    )
    result = await evaluate(search, evalset, 5, lambda hits: (hits[0].dense_similarity or 0) < 0.3)
    assert result.hit_at_1 == pytest.approx(1 / 3)
    assert result.hit_at_k == pytest.approx(2 / 3)
    assert result.mrr == pytest.approx((1 + 0.5 + 0) / 3)
    assert result.abstain_recall == pytest.approx(0.5)
    assert result.abstain_precision == pytest.approx(1.0)
    assert {m["q"] for m in result.misses} == {"qq3", "git"}


def test_splits_are_disjoint_halves() -> None:
    evalset = EvalSet(
        in_scope=tuple(InScope(q=f"question {i}", concepts=("cnns",)) for i in range(5)), out_of_scope=("a", "b", "c")
    )
    cal, held = evalset.split("calibration"), evalset.split("heldout")
    assert len(cal.in_scope) == 3 and len(held.in_scope) == 2 and len(cal.out_of_scope) == 2
    assert not {i.q for i in cal.in_scope} & {i.q for i in held.in_scope}


def test_calibration_respects_the_in_scope_budget() -> None:
    ins = [0.5, 0.55, 0.6, 0.7, 0.3, 0.65, 0.62, 0.58, 0.52, 0.51] * 2
    outs = [0.1, 0.2, 0.25, 0.45]
    t = calibrate_threshold(ins, outs, max_in_scope_abstain=0.05)
    assert sum(c < t for c in ins) <= 1
    assert sum(c < t for c in outs) >= 3


def test_unknown_concepts_in_an_eval_file_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "eval.yaml"
    bad.write_text("in_scope:\n  - q: what is a cnn\n    concepts: [convnets]\nout_of_scope: []\n")
    with pytest.raises(ContentError, match="convnets"):
        load_eval_set(bad)
