"""Heading-aware chunking that keeps every chunk inside the embedding model's token limit."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from bot.core.models import Chunk
from ingest.documents import Document

# Bump when chunking output changes: every document is then re-chunked on the next ingest.
CHUNKER_VERSION = 2
TARGET_TOKENS = 200
OVERLAP_TOKENS = 32
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
TITLE_SEPARATOR = " > "

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")

TokenCounter = Callable[[str], int]


def chunk_id(source: str, title: str, text: str) -> str:
    """Stable id from source + heading path + text: identical text in two documents differs."""
    digest = hashlib.sha256("\x1f".join((source, title, text)).encode("utf-8")).hexdigest()
    return digest[:32]


def embedding_text(title: str, text: str) -> str:
    """What the embedding model reads for a chunk: its heading path, then its text."""
    return f"{title}\n{text}" if title else text


def _split_long(piece: str, limit: int, count: TokenCounter) -> list[str]:
    """Split one paragraph that exceeds `limit` by sentences, then lines, then words."""
    for splitter in (_SENTENCE.split, str.splitlines, str.split):
        parts = [p for p in splitter(piece) if p.strip()]
        if len(parts) > 1:
            break
    else:
        parts = [piece]
    out: list[str] = []
    for part in parts:
        if count(part) <= limit:
            out.append(part)
        elif len(part.split()) > 1:
            words = part.split()
            half = len(words) // 2
            out.extend(_split_long(" ".join(words[:half]), limit, count))
            out.extend(_split_long(" ".join(words[half:]), limit, count))
        else:  # one enormous "word" (a URL, base64): cut by characters
            step = max(1, len(part) // 2)
            out.extend(_split_long(part[:step], limit, count) + _split_long(part[step:], limit, count))
    return out


def _tail(text: str, budget: int, count: TokenCounter) -> str:
    """The last sentences of `text` that fit in `budget` tokens (the overlap carried forward)."""
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    kept: list[str] = []
    for sentence in reversed(sentences):
        candidate = " ".join([sentence, *kept])
        if count(candidate) > budget:
            break
        kept.insert(0, sentence)
    return " ".join(kept)


def split_section(text: str, limit: int, count: TokenCounter, target: int = TARGET_TOKENS) -> list[str]:
    """Pack paragraphs into pieces of about `target` tokens, never above `limit`, with overlap."""
    target = min(target, limit)
    paragraphs: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        paragraphs.extend([para] if count(para) <= limit else _split_long(para, limit, count))
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for para in paragraphs:
        n = count(para)
        if current and size + n > target:
            pieces.append("\n\n".join(current))
            overlap = _tail(current[-1], min(OVERLAP_TOKENS, limit - n), count)
            current = [overlap] if overlap else []
            size = count(overlap) if current else 0
        current.append(para)
        size += n
    if current:
        pieces.append("\n\n".join(current))
    # Joining adds a few separator tokens at most; re-check and split anything still too long.
    safe: list[str] = []
    for piece in pieces:
        safe.extend([piece] if count(piece) <= limit else _split_long(piece, limit, count))
    return safe


def chunk_document(doc: Document, count: TokenCounter, max_tokens: int) -> list[Chunk]:
    """Chunks of `doc`, each with `embedding_text` ≤ `max_tokens` word pieces (specials included)."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in doc.sections:
        title = TITLE_SEPARATOR.join(h for h in section.headings if h) or doc.title
        title_tokens = count(title + "\n") if title else 0
        limit = max_tokens - SPECIAL_TOKENS - title_tokens
        if limit < 32:  # absurdly long heading path: keep only its last part
            title = section.headings[-1][:200] if section.headings else doc.title[:200]
            limit = max_tokens - SPECIAL_TOKENS - count(title + "\n")
        for piece in split_section(section.text, limit, count):
            cid = chunk_id(doc.source, title, piece)
            if cid in seen:  # the same text twice under one heading: keep ids unique
                cid = chunk_id(doc.source, title, f"{piece}\x1f{len(chunks)}")
            seen.add(cid)
            chunks.append(
                Chunk(
                    id=cid,
                    source=doc.source,
                    ordinal=len(chunks),
                    stage=doc.stage,
                    concept=doc.concept,
                    title=title,
                    kind=doc.kind,
                    text=piece,
                )
            )
    return chunks
