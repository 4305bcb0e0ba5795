"""Synthetic candidate pools with planted structure (issue 8), shared by tests."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from smoothie_core.embedders import HashingEmbedder


def independent_pool(
    seed: int,
    n: int = 300,
    dim: int = 384,
    variances: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.2),
) -> tuple[NDArray[np.float64], int]:
    """Comparably strong candidates with independent errors (Smoothie's assumption holds).

    Returns ``(outputs (n, m, dim), index of the truly best candidate)``; the order of the
    variances is shuffled by ``seed``.
    """
    rng = np.random.default_rng(seed)
    var = rng.permutation(np.asarray(variances))
    truth = rng.normal(size=(n, 1, dim))
    outs = truth + rng.normal(size=(n, len(var), dim)) * np.sqrt(var)[:, None]
    return outs, int(np.argmin(var))


def crowd_pool(
    seed: int, n: int = 300, dim: int = 384, m: int = 5, strong_at: int = 0
) -> tuple[NDArray[np.float64], int]:
    """One strong candidate among ``m - 1`` weak ones that share most of their error.

    Strong: ``truth + 0.5 noise``; weak: ``truth + shared + 0.6 noise`` with a shared
    ``N(0, 1)`` error per sample (true squared error 0.25 d vs 1.36 d). Returns
    ``(outputs, index of the strong candidate)``.
    """
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, 1, dim))
    shared = rng.normal(size=(n, 1, dim))
    outs = truth + shared + 0.6 * rng.normal(size=(n, m, dim))
    outs[:, strong_at] = truth[:, 0] + 0.5 * rng.normal(size=(n, dim))
    return outs, strong_at


class LookupEmbedder:
    """Maps known texts to planted vectors; other texts (prompts) go to a hashing embedder."""

    def __init__(self, table: dict[str, NDArray[np.float64]], dim: int) -> None:
        self.table = table
        self.fallback = HashingEmbedder(dim)
        self.id = f"lookup|dim={dim}"

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        out = self.fallback.embed(texts)
        for i, t in enumerate(texts):
            if t in self.table:
                out[i] = self.table[t]
        return out.astype(np.float32)


def as_texts(
    outs: NDArray[np.float64], names: list[str]
) -> tuple[list[str], list[dict[str, str | None]], LookupEmbedder]:
    """Prompts, per-prompt answers and an embedder that maps each answer to its planted vector."""
    n, _, dim = outs.shape
    table: dict[str, NDArray[np.float64]] = {}
    prompts = [f"prompt {s}" for s in range(n)]
    answers: list[dict[str, str | None]] = []
    for s in range(n):
        row: dict[str, str | None] = {}
        for j, name in enumerate(names):
            text = f"answer of {name} to prompt {s}"
            table[text] = outs[s, j]
            row[name] = text
        answers.append(row)
    return prompts, answers, LookupEmbedder(table, dim)
