"""Use a LlamaIndex ``BaseEmbedding`` as a Smoothie embedder.

Smoothie needs the embedder only to compare texts with each other, so any LlamaIndex
embedding model works; the adapter lives here (``smoothie_core`` never imports
LlamaIndex).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from numpy.typing import NDArray

from smoothie_core.embedders import Embedder

__all__ = ["LlamaIndexEmbedder", "as_embedder"]


class LlamaIndexEmbedder:
    """Adapt a LlamaIndex :class:`~llama_index.core.base.embeddings.base.BaseEmbedding`.

    Answers and inputs are embedded with ``get_text_embedding_batch`` (the same
    vector space for both, which is what Smoothie compares).

    Parameters
    ----------
    embed_model : BaseEmbedding
        Any LlamaIndex embedding model.

    Examples
    --------
    >>> from llama_index.core.embeddings import MockEmbedding
    >>> emb = LlamaIndexEmbedder(MockEmbedding(embed_dim=4))
    >>> emb.embed(["a", "b"]).shape, emb.id
    ((2, 4), 'llama_index:MockEmbedding:unknown')
    """

    def __init__(self, embed_model: BaseEmbedding) -> None:
        if not isinstance(embed_model, BaseEmbedding):
            raise TypeError(
                "`embed_model` must be a llama_index BaseEmbedding; got "
                f"{type(embed_model).__name__}."
            )
        self.embed_model = embed_model
        self.id = f"llama_index:{type(embed_model).__name__}:{embed_model.model_name}"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``; float32 of shape ``(len(texts), dim)``."""
        if isinstance(texts, str):
            raise TypeError(
                "`texts` must be a sequence of str, not a single str; wrap it in a list."
            )
        items = list(texts)
        if not items:
            return np.empty((0, 0), dtype=np.float32)
        vectors = self.embed_model.get_text_embedding_batch(items)
        return np.asarray(vectors, dtype=np.float32).reshape(len(items), -1)

    def __repr__(self) -> str:
        return (
            f"LlamaIndexEmbedder({self.embed_model.class_name()}({self.embed_model.model_name!r}))"
        )


def as_embedder(embedder: Embedder | BaseEmbedding | None) -> Embedder | None:
    """Accept a Smoothie :class:`~smoothie_core.Embedder`, a LlamaIndex ``BaseEmbedding`` or None.

    None is passed through (the router then uses the offline all-MiniLM-L6-v2).

    Examples
    --------
    >>> from smoothie_core import HashingEmbedder
    >>> as_embedder(HashingEmbedder(8)).id
    'hashing-v1|dim=8'
    """
    if embedder is None:
        return None
    if isinstance(embedder, BaseEmbedding):
        return LlamaIndexEmbedder(embedder)
    if isinstance(embedder, Embedder):
        return embedder
    raise TypeError(
        "`embedder` must be a smoothie_core Embedder (with `id` and `embed(texts)`), a "
        f"llama_index BaseEmbedding, or None; got {type(embedder).__name__}."
    )
