"""The progress chart: a real PNG of the expected size whose cells show the mastery levels."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from bot.charts import CHART_SIZE, LEVEL_COLOURS, cell_box, render_progress_chart
from bot.core.content import STAGE_CONCEPTS, Roadmap, load_roadmap
from bot.core.mastery import LEVELS
from bot.core.records import ConceptProgress, Progress, StageProgress, StreakInfo
from bot.core.track import plan_track
from tests.conftest import KNOWLEDGE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = START + timedelta(weeks=12)


@pytest.fixture(scope="module")
def roadmap() -> Roadmap:
    return load_roadmap(KNOWLEDGE)


def make_progress(roadmap: Roadmap, *, rusty: str = "", with_track: bool = True) -> Progress:
    """classical-ml awarded with its concepts cycling through all five levels; the rest not started."""
    levels: dict[str, str] = {}
    stages = []
    for index, stage in enumerate(roadmap.stages):
        concepts = []
        for n, concept in enumerate(stage.concepts):
            level = LEVELS[n % len(LEVELS)] if index == 0 else "not-started"
            levels[concept] = level
            title = concept.replace("-", " ").capitalize()
            concepts.append(ConceptProgress(concept, title, level, concept == rusty, 0, ""))
        awarded_at = START + timedelta(weeks=9) if index == 0 else None
        stages.append(
            StageProgress(stage.id, stage.title, tuple(concepts), index == 0, awarded_at, "available", "", "", ())
        )
    awards = {"classical-ml": START + timedelta(weeks=9)}
    track = plan_track(roadmap, "ml-engineer", 10, START, NOW, levels, awards) if with_track else None
    return Progress(7, NOW, tuple(stages), 2, StreakInfo(12, 20, 1, 1, False), track, None)


def render(progress: Progress) -> tuple[bytes, np.ndarray]:
    buffer = io.BytesIO()
    render_progress_chart(progress, buffer)
    data = buffer.getvalue()
    return data, imread(io.BytesIO(data), format="png")


def corner_pixel(image: np.ndarray, row: int, column: int, rows: int = 5) -> tuple[float, ...]:
    """The RGB colour just inside a cell's top-left corner (away from its centred label)."""
    left, top, _, _ = cell_box(row, column, rows)
    return tuple(round(float(v), 2) for v in image[top + 4, left + 4, :3])


def rgb(hex_colour: str) -> tuple[float, ...]:
    return tuple(round(int(hex_colour[i : i + 2], 16) / 255, 2) for i in (1, 3, 5))


def test_a_png_of_the_chart_size_is_written(roadmap: Roadmap) -> None:
    data, image = render(make_progress(roadmap))
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    width, height = CHART_SIZE
    assert image.shape[:2] == (height, width)


def test_each_level_has_its_own_cell_colour(roadmap: Roadmap) -> None:
    _, image = render(make_progress(roadmap))
    # Row 0 (classical-ml) cycles through LEVELS in its first five cells.
    colours = [corner_pixel(image, 0, n) for n in range(len(LEVELS))]
    assert colours == [rgb(LEVEL_COLOURS[level]) for level in LEVELS]
    assert len(set(colours)) == len(LEVELS)
    # A not-started cell of a later stage has the not-started colour.
    assert corner_pixel(image, 3, 0) == rgb(LEVEL_COLOURS["not-started"])


def test_a_rusty_concept_is_marked(roadmap: Roadmap) -> None:
    rusty_concept = STAGE_CONCEPTS["classical-ml"][4]  # mastered
    _, plain = render(make_progress(roadmap))
    _, marked = render(make_progress(roadmap, rusty=rusty_concept))
    left, top, right, bottom = cell_box(0, 4, 5)
    before, after = plain[top:bottom, left:right, :3], marked[top:bottom, left:right, :3]
    assert not np.array_equal(before, after)
    # Everything else is unchanged.
    outside = np.ones(plain.shape[:2], dtype=bool)
    outside[top - 3 : bottom + 3, left - 3 : right + 3] = False
    assert np.array_equal(plain[outside], marked[outside])


def test_renders_to_a_path(roadmap: Roadmap, tmp_path: Path) -> None:
    out = tmp_path / "progress.png"
    render_progress_chart(make_progress(roadmap), out)
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    assert imread(out).shape[:2] == (CHART_SIZE[1], CHART_SIZE[0])


def test_renders_without_a_track(roadmap: Roadmap) -> None:
    _, with_track = render(make_progress(roadmap))
    _, without = render(make_progress(roadmap, with_track=False))
    assert without.shape == with_track.shape and not np.array_equal(without, with_track)


def test_the_same_progress_renders_the_same_image(roadmap: Roadmap) -> None:
    assert np.array_equal(render(make_progress(roadmap))[1], render(make_progress(roadmap))[1])


def test_an_unknown_level_is_refused(roadmap: Roadmap) -> None:
    progress = make_progress(roadmap)
    first = progress.stages[0]
    odd = ConceptProgress("cnns", "CNNs", "expert", False, 0, "")
    broken = Progress(7, NOW, (replace(first, concepts=(odd,)),), 0, progress.streak, None, None)
    with pytest.raises(ValueError, match="unknown level 'expert'"):
        render_progress_chart(broken, io.BytesIO())


def test_no_pyplot_figure_is_left_open(roadmap: Roadmap) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    render(make_progress(roadmap))
    assert plt.get_fignums() == before == []
