"""Progress chart: stages × concepts coloured by mastery level, awards and the track, as a PNG (headless Agg)."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from bot.core.mastery import LEVELS
from bot.core.records import Progress, StageProgress, Track, TrackStage

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CHART_DPI", "CHART_SIZE", "LEVEL_COLOURS", "cell_box", "render_progress_chart"]

# Pixels (width, height) at CHART_DPI: readable in a Discord embed or a Telegram photo.
CHART_SIZE = (1000, 600)
CHART_DPI = 100
# A sequential palette (light → dark) so the order of the levels reads without the legend.
LEVEL_COLOURS: dict[str, str] = {
    "not-started": "#e8e8e8",
    "attempted": "#c7e9b4",
    "familiar": "#7fcdbb",
    "proficient": "#1d91c0",
    "mastered": "#0c2c84",
}
_DARK_LEVELS = frozenset({"proficient", "mastered"})  # white text on these
RUSTY_COLOUR = "#e6550d"
STATUS_COLOURS = {"done": "#238b45", "on track": "#238b45", "ahead": "#2171b5", "behind": "#cb181d"}

# Layout in pixels from the top-left corner.
_GRID_TOP, _GRID_BOTTOM = 92, 518
_LABEL_X, _CELLS_X, _CELLS_RIGHT, _TRACK_X = 12, 205, 790, 802
_COLUMNS = 7
_GAP = 4


def cell_box(row: int, column: int, rows: int) -> tuple[int, int, int, int]:
    """Pixel box (left, top, right, bottom) of a concept cell in the rendered PNG.

    `row` is the stage's index in `Progress.stages`, `column` the concept's index in the stage,
    `rows` the number of stages. Useful for image maps and tests.
    """
    row_h = (_GRID_BOTTOM - _GRID_TOP) / max(rows, 1)
    col_w = (_CELLS_RIGHT - _CELLS_X) / _COLUMNS
    left = _CELLS_X + column * col_w
    top = _GRID_TOP + row * row_h
    return round(left), round(top), round(left + col_w - _GAP), round(top + row_h - _GAP)


def render_progress_chart(progress: Progress, out: BinaryIO | Path) -> None:
    """Write a PNG (CHART_SIZE pixels) of the learner's progress to a binary file object or a path.

    Rows are the stages in the order given (roadmap order), cells their concepts coloured by level;
    rusty concepts are hatched, awarded stages carry a ✓ and the award date, and the track's target
    date and status stand beside each stage. Dates are shown in UTC. Uses matplotlib's Agg canvas
    directly: no pyplot, no global backend or state is touched, so it is safe in a worker thread.

    Raises:
        ValueError: a concept has a level that is not one of `bot.core.mastery.LEVELS`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = CHART_SIZE
    fig = Figure(figsize=(width / CHART_DPI, height / CHART_DPI), dpi=CHART_DPI, facecolor="white")
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas: Agg without pyplot or a global backend
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # pixel coordinates, y down
    ax.set_axis_off()

    _header(ax, progress)
    track_stages = {s.stage: s for s in progress.track.stages} if progress.track else {}
    for row, stage in enumerate(progress.stages):
        _stage_row(ax, row, len(progress.stages), stage, track_stages.get(stage.stage))
    _legend(ax, height)
    # Fast zlib level: the image is flat colour, so level 1 is nearly as small and several times quicker.
    fig.savefig(out, format="png", dpi=CHART_DPI, pil_kwargs={"compress_level": 1})


def _header(ax: Axes, progress: Progress) -> None:
    ax.text(12, 10, f"Progress on {progress.at:%d %b %Y}", fontsize=14, fontweight="bold", va="top")
    ax.text(12, 38, _track_line(progress.track), fontsize=10, va="top", color=_status_colour(progress.track))
    streak = progress.streak
    freezes = f"{streak.freezes_held} freeze{'s' if streak.freezes_held != 1 else ''} held"
    today = "today done" if streak.today_done else "today pending"
    ax.text(
        12,
        60,
        f"Streak {streak.current} day{'s' if streak.current != 1 else ''} (best {streak.longest}) · {freezes} · "
        f"{today} · {progress.due_reviews} review{'s' if progress.due_reviews != 1 else ''} due",
        fontsize=10,
        va="top",
        color="#333333",
    )
    ax.text(_TRACK_X, 80, "Target · status", fontsize=8.5, va="bottom", color="#555555")


def _track_line(track: Track | None) -> str:
    if track is None:
        return "No track yet: choose a goal and your weekly hours to get target dates."
    if track.status == "done":
        return f"Track {track.goal}: done on {track.finish:%d %b %Y}"
    return (
        f"Track {track.goal} at {track.hours_per_week:g} h/week: {track.status} · "
        f"projected finish {track.finish:%d %b %Y} · {track.weekly_concepts:.1f} concepts/week to stay on it"
    )


def _status_colour(track: Track | None) -> str:
    return STATUS_COLOURS.get(track.status, "black") if track else "#555555"


def _stage_row(ax: Axes, row: int, rows: int, stage: StageProgress, target: TrackStage | None) -> None:
    from matplotlib.patches import Rectangle

    _, top, _, bottom = cell_box(row, 0, rows)
    title = textwrap.fill(stage.title, 22, max_lines=2, placeholder="…")
    ax.text(_LABEL_X, top + 2, title, fontsize=9, fontweight="bold", va="top", linespacing=1.1)
    if stage.awarded:
        when = f" {stage.awarded_at:%d %b %Y}" if stage.awarded_at else ""
        ax.text(_LABEL_X, bottom - 2, f"✓ awarded{when}", fontsize=8.5, va="bottom", color="#238b45", fontweight="bold")

    for column, concept in enumerate(stage.concepts[:_COLUMNS]):
        if concept.level not in LEVEL_COLOURS:
            raise ValueError(f"concept {concept.concept!r} has unknown level {concept.level!r}; use one of {LEVELS}")
        left, c_top, right, c_bottom = cell_box(row, column, rows)
        ax.add_artist(
            Rectangle(
                (left, c_top),
                right - left,
                c_bottom - c_top,
                facecolor=LEVEL_COLOURS[concept.level],
                edgecolor=RUSTY_COLOUR if concept.rusty else "white",
                hatch="//" if concept.rusty else None,
                linewidth=1.5 if concept.rusty else 0,
            )
        )
        ink = "white" if concept.level in _DARK_LEVELS else "#1a1a1a"
        label = textwrap.fill(concept.title, 14, max_lines=3, placeholder="…", break_long_words=False)
        image = _label_image(label, ink, 7.5)
        h, w = image.shape[:2]
        x0, y0 = round((left + right - w) / 2), round((c_top + c_bottom - h) / 2)
        if concept.rusty:  # on hatched cells the label sits on a patch of the level colour to stay legible
            pad = 2
            ax.add_artist(
                Rectangle(
                    (x0 - pad, y0 - pad), w + 2 * pad, h + 2 * pad, facecolor=LEVEL_COLOURS[concept.level], linewidth=0
                )
            )
        # A cached bitmap composited at pixel offsets (figure origin bottom-left): text layout and glyph
        # rendering were most of the chart's time, and concept titles repeat in every chart.
        ax.figure.figimage(image, x0, CHART_SIZE[1] - y0 - h, origin="upper", zorder=3)

    if target is not None:
        mid = (top + bottom) / 2
        verb = "awarded" if target.status == "done" else "target"
        ax.text(_TRACK_X, mid - 3, f"{verb} {target.target:%d %b %Y}", fontsize=9, va="bottom")
        colour = STATUS_COLOURS.get(target.status, "black")
        ax.text(_TRACK_X, mid + 3, target.status, fontsize=9, va="top", color=colour, fontweight="bold")


@functools.lru_cache(maxsize=1024)
def _label_image(text: str, colour: str, size: float) -> np.ndarray:
    """`text` (centred lines) rendered once to an RGBA array cropped to its ink, transparent around it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 1.2), dpi=CHART_DPI)
    canvas = FigureCanvasAgg(fig)
    fig.patch.set_alpha(0)
    fig.text(0.5, 0.5, text, fontsize=size, ha="center", va="center", color=colour)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    ys, xs = np.nonzero(rgba[..., 3])
    if len(ys) == 0:
        return np.zeros((1, 1, 4), dtype=np.uint8)
    image = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()
    image.setflags(write=False)
    return image


def _legend(ax: Axes, height: int) -> None:
    from matplotlib.patches import Rectangle

    x, y, size = 205.0, height - 52.0, 16
    for level in LEVELS:
        ax.add_artist(Rectangle((x, y), size, size, facecolor=LEVEL_COLOURS[level], edgecolor="#999999", linewidth=0.5))
        ax.text(x + size + 5, y + size / 2, level.replace("-", " "), fontsize=9, va="center")
        x += 110
    ax.add_artist(Rectangle((x, y), size, size, facecolor="white", edgecolor=RUSTY_COLOUR, hatch="///", linewidth=1.5))
    ax.text(x + size + 5, y + size / 2, "rusty (review due)", fontsize=9, va="center")
