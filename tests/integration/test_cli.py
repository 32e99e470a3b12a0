"""The `mentor` CLI end to end, in-process (Typer's runner) on the session's bundled index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.retrieval.locks import index_lock
from tests.integration.conftest import Bundled

runner = CliRunner()


@pytest.fixture
def env(bundled: Bundled, monkeypatch: pytest.MonkeyPatch) -> Bundled:
    monkeypatch.setenv("MENTOR_DATA_DIR", str(bundled.settings.data_dir))
    monkeypatch.setenv("MENTOR_KNOWLEDGE_DIR", str(bundled.settings.knowledge_dir))
    monkeypatch.setenv("MENTOR_LOG_LEVEL", "WARNING")
    return bundled


def _json(args: list[str], code: int = 0, **kw: object) -> object:
    result = runner.invoke(app, args, **kw)  # type: ignore[arg-type]
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_search_json_contract_and_stage_filter(env: Bundled) -> None:
    hits = _json(["search", "what does a confusion matrix show", "--k", "3", "--json"])
    assert isinstance(hits, list) and len(hits) == 3
    assert set(hits[0]) == {"id", "score", "stage", "concept", "source", "title", "kind", "text"}
    assert hits[0]["concept"] == "evaluation-metrics"
    staged = _json(["search", "how to version data", "--stage", "mlops", "--json"])
    assert {h["stage"] for h in staged} == {"mlops"}  # type: ignore[index]
    bad = runner.invoke(app, ["search", "x", "--stage", "cooking"])
    assert bad.exit_code == 2 and "unknown stage" in bad.output


def test_ask_answers_with_citations_or_abstains(env: Bundled) -> None:
    data = _json(["ask", "my model does great on training data but terrible on test data, what's going on?", "--json"])
    assert set(data) == {"answer", "abstained", "citations"}  # type: ignore[arg-type]
    assert data["abstained"] is False  # type: ignore[index]
    assert data["citations"] and set(data["citations"][0]) == {"n", "source", "title", "stage", "concept"}  # type: ignore[index]
    assert "bias-variance" in {c["concept"] for c in data["citations"]}  # type: ignore[index]
    assert "[1]" in data["answer"]  # type: ignore[index]
    pizza = _json(["ask", "what's the best pizza in Naples?", "--json"])
    assert pizza["abstained"] is True and pizza["citations"] == []  # type: ignore[index]


def test_terminal_mentor_session(env: Bundled) -> None:
    script = "/help\n/roadmap\n/stage deep-learning\nwhat is dropout and why turn it off at test time\n/good\n/stage nope\n/frobnicate\n/quit\n"
    result = runner.invoke(app, ["chat"], input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Foundations & Classical ML" in out and "weeks 33–48" in out
    assert "Milestone" in out and "[1]" in out
    assert "Thanks, noted." in out and "Which stage?" in out and "Unknown command /frobnicate" in out
    logged = _json(["admin", "questions", "--json"])
    assert any(r["question"].startswith("what is dropout") and r["feedback"] == 1 for r in logged)  # type: ignore[union-attr,index]


def test_sources_list_and_doctor(env: Bundled) -> None:
    rows = _json(["sources", "list", "--json"])
    assert any(r["source"] == "knowledge/concepts/classical-ml/bias-variance.md" and r["chunks"] > 1 for r in rows)  # type: ignore[union-attr,index]
    doctor = runner.invoke(app, ["doctor"])
    assert doctor.exit_code == 0, doctor.output
    assert "34 of 34 concept explainers" in doctor.output


def test_ingest_refuses_while_another_process_holds_the_index(env: Bundled) -> None:
    with index_lock(env.settings.data_dir, "mentor run"):
        result = runner.invoke(app, ["ingest"])
    assert result.exit_code == 2
    assert "in use" in result.output and "MENTOR_CHROMA_URL" in result.output and "reindex" in result.output


def test_eval_retrieval_json(env: Bundled, tmp_path: Path) -> None:
    small = tmp_path / "eval.yaml"
    small.write_text(
        "in_scope:\n  - q: how does k fold cross validation work\n    concepts: [cross-validation]\n"
        "out_of_scope:\n  - how do I bake sourdough bread\n"
    )
    data = _json(["eval", "retrieval", str(small), "--baseline", "dense", "--json"])
    for key in ("hit_at_1", "hit_at_k", "mrr", "abstain_precision", "abstain_recall", "misses"):
        assert key in data  # type: ignore[operator]
    assert data["hit_at_k"] == 1.0 and data["abstain_recall"] == 1.0  # type: ignore[index]
    assert data["baseline"]["name"] == "dense"  # type: ignore[index]


def test_the_console_script_runs_from_any_directory(tmp_path: Path) -> None:
    env = {"PATH": str(Path(sys.executable).parent), "MENTOR_DATA_DIR": str(tmp_path / "d"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mentor"), "doctor"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "34 of 34 concept explainers" in result.stdout
    assert "mentor db upgrade" in result.stdout
