"""smoothie_core: label-free LLM routing with the Smoothie estimator (Guha et al., NeurIPS 2024).

The estimator (:class:`Smoothie`, pure functions in :mod:`smoothie_core.triplet`),
embedders (:mod:`smoothie_core.embedders`), router state (:class:`Router`) and the
``smoothie`` command line. Never imports LangChain or LlamaIndex.
"""

from smoothie_core._version import __version__
from smoothie_core.embedders import (
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    default_embedder,
    load_embedder,
)
from smoothie_core.estimator import Smoothie
from smoothie_core.exceptions import NotFittedError, StateFileError
from smoothie_core.neighbors import ExactNeighbors, NeighborIndex
from smoothie_core.router import CalibrationReport, Decision, Router
from smoothie_core.triplet import neighbor_mean, sample_deltas, select_best, weights_from_deltas

__all__ = [
    "__version__",
    "CachedEmbedder",
    "CalibrationReport",
    "Decision",
    "Embedder",
    "ExactNeighbors",
    "HashingEmbedder",
    "NeighborIndex",
    "NotFittedError",
    "Router",
    "SentenceTransformerEmbedder",
    "Smoothie",
    "StateFileError",
    "default_embedder",
    "load_embedder",
    "neighbor_mean",
    "sample_deltas",
    "select_best",
    "weights_from_deltas",
]
