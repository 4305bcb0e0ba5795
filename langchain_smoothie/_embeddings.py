"""Adapter from a LangChain ``Embeddings`` to the smoothie_core ``Embedder`` protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from smoothie_core.embedders import Embedder

__all__ = ["LangChainEmbedder", "as_embedder"]


class LangChainEmbedder:
    """Use any LangChain :class:`~langchain_core.embeddings.Embeddings` as a Smoothie embedder.

    Parameters
    ----------
    embeddings : Embeddings
        Called through ``embed_documents`` (answers and inputs are embedded alike).
    id : str or None
        Identifier saved with a calibration (it must match when loading). Defaults to
        the class name plus the ``model``/``model_name`` attribute when there is one.

    Examples
    --------
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> emb = LangChainEmbedder(DeterministicFakeEmbedding(size=8))
    >>> emb.embed(["a", "b"]).shape, emb.embed(["a"]).dtype
    ((2, 8), dtype('float32'))
    """

    def __init__(self, embeddings: Embeddings, *, id: str | None = None) -> None:
        if not isinstance(embeddings, Embeddings):
            raise TypeError(
                f"Expected a langchain_core Embeddings instance; got {type(embeddings).__name__}."
            )
        self.embeddings = embeddings
        if id is None:
            model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
            id = f"langchain:{type(embeddings).__name__}" + (f"|{model}" if model else "")
        self.id = id

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` with ``embed_documents``; float32 ``(n, dim)``."""
        items = list(texts)
        if not items:
            return np.empty((0, 0), dtype=np.float32)
        vectors = np.asarray(self.embeddings.embed_documents(items), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(items):
            raise ValueError(
                f"{type(self.embeddings).__name__}.embed_documents must return one vector per "
                f"text; got an array of shape {vectors.shape} for {len(items)} texts."
            )
        return vectors

    def __repr__(self) -> str:
        return f"LangChainEmbedder({self.embeddings!r})"


def as_embedder(embedder: Any) -> Embedder | None:
    """Accept None (the default MiniLM), a Smoothie ``Embedder`` or a LangChain ``Embeddings``."""
    if embedder is None:
        return None
    if isinstance(embedder, Embeddings):
        return LangChainEmbedder(embedder)
    if isinstance(embedder, Embedder):
        return embedder
    raise TypeError(
        "`embedder` must be None (the offline MiniLM), a smoothie_core Embedder (with `id` and "
        f"`embed(texts)`) or a LangChain Embeddings instance; got {type(embedder).__name__}."
    )
