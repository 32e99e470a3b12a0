"""Retrieval quality and shape on the bundled knowledge with the real model (the shipped eval set)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.core.evaluation import evaluate, load_eval_set
from bot.core.mentor import DEFAULT_ABSTAIN_THRESHOLD, confidence
from bot.retrieval.baseline import DenseBaseline
from tests.integration.conftest import Bundled

EVAL = Path(__file__).resolve().parents[1] / "data" / "retrieval_eval.yaml"


def _abstains(hits: list) -> bool:  # type: ignore[type-arg]
    conf = confidence(hits)
    return conf is None or conf < DEFAULT_ABSTAIN_THRESHOLD


def _run(bundled: Bundled, split: str, dense: bool = False):  # type: ignore[no-untyped-def]
    evalset = load_eval_set(EVAL).split(split)  # type: ignore[arg-type]
    if dense:
        state_collection = bundled.retriever.vectors.collection.name
        baseline = DenseBaseline(bundled.client, state_collection, bundled.embedder)

        async def search(q: str, k: int):  # type: ignore[no-untyped-def]
            return baseline.search(q, k)
    else:

        async def search(q: str, k: int):  # type: ignore[no-untyped-def]
            return bundled.retriever.search(q, k)

    return asyncio.run(evaluate(search, evalset, 5, _abstains))


def test_hybrid_retrieval_meets_the_hit_and_mrr_targets(bundled: Bundled) -> None:
    result = _run(bundled, "all")
    assert result.n_in_scope >= 70
    assert result.hit_at_k >= 0.90, result.misses
    assert result.mrr >= 0.75


def test_hybrid_is_at_least_as_good_as_the_dense_baseline(bundled: Bundled) -> None:
    hybrid = _run(bundled, "all")
    dense = _run(bundled, "all", dense=True)
    assert hybrid.hit_at_k >= dense.hit_at_k
    assert hybrid.mrr >= dense.mrr - 0.01


def test_abstention_on_the_held_out_split(bundled: Bundled) -> None:
    held = _run(bundled, "heldout")
    assert held.n_out_of_scope >= 12
    assert held.abstain_recall >= 0.8
    assert held.in_scope_abstain_rate <= 0.10


def test_search_hits_have_the_json_contract_and_no_duplicate_sections(bundled: Bundled) -> None:
    hits = bundled.retriever.search("how do i pick the number of folds for cross validation", k=5)
    assert len(hits) == 5
    assert set(hits[0].as_json()) == {"id", "score", "stage", "concept", "source", "title", "kind", "text"}
    sections = [(h.chunk.source, h.chunk.title) for h in hits]
    assert len(set(sections)) == len(sections)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].chunk.concept == "cross-validation"


def test_stage_filter_returns_only_that_stage(bundled: Bundled) -> None:
    hits = bundled.retriever.search("how do I avoid overfitting", k=5, stage="mlops")
    assert hits and {h.chunk.stage for h in hits} == {"mlops"}
    boosted = bundled.retriever.search("how do I avoid overfitting", k=5, boost_stage="deep-learning")
    assert boosted[0].chunk.stage == "deep-learning"


def test_lexical_side_finds_exact_api_names(bundled: Bundled) -> None:
    hits = bundled.retriever.search("clip_grad_norm_", k=5)
    assert hits and any("clip_grad_norm_" in h.chunk.text for h in hits)
