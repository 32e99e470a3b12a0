"""Loaded documents before chunking: a heading path per section, with metadata."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """Text under one heading path (outermost first); `line` is 1-based where known."""

    headings: tuple[str, ...]
    text: str
    line: int | None = None


@dataclass(frozen=True)
class Document:
    source: str
    root: str
    kind: str
    stage: str
    concept: str
    title: str
    content_hash: str
    sections: tuple[Section, ...]


class LoadError(Exception):
    """A document could not be loaded; the message names the source (and line, when known)."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
