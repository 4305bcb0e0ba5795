"""Asymmetric coverage: a label-free signal that is not symmetric consensus (experimental).

Smoothie's triplet estimator uses squared distances, which are symmetric: "one good
answer far from a correlated weak crowd" looks exactly like "one bad answer far from a
good crowd". Coverage is asymmetric: a better answer tends to *contain* what the
others say, but not the reverse.

For one input, every candidate's answer is cut to the same word budget (the first
``budget`` words) and split into fixed windows of ``window`` words, so every answer of
at least ``budget`` words contributes exactly the same number of equally long chunks
(the length control). With ``E_i`` the unit-norm chunk embeddings of answer ``i``::

    cov(i -> j) = mean over chunks b of j of  max over chunks a of i of  cos(a, b)
    score_i     = sum_j  cov(i -> j) - cov(j -> i)           (antisymmetric; sums to 0)

Higher is better. The per-input score is :func:`coverage_scores`; a global or
neighbourhood score is its mean over inputs.

Cost: it embeds ``budget / window`` short chunks per answer (4 with the defaults)
instead of one whole answer, plus an ``m x m`` table of chunk similarities per input.

Examples
--------
>>> from smoothie_core.embedders import HashingEmbedder
>>> answers = ["Paris is the capital of France. It lies on the Seine.",
...            "Paris is the capital of France.", "France has a capital."]
>>> chunks = [word_chunks(a, budget=12, window=6) for a in answers]
>>> chunks[1]
['Paris is the capital of France.']
>>> scores = coverage_scores(embed_chunks(chunks, HashingEmbedder(dim=128)))
>>> scores.shape, round(float(scores.sum()), 9)
((3,), 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from smoothie_core.embedders import Embedder

__all__ = ["word_chunks", "embed_chunks", "coverage_matrix", "coverage_scores", "DEFAULT_BUDGET"]

#: Default word budget per answer and window length (60 words = 4 chunks of 15 words).
DEFAULT_BUDGET = 60
DEFAULT_WINDOW = 15


def word_chunks(
    text: str, *, budget: int = DEFAULT_BUDGET, window: int = DEFAULT_WINDOW
) -> list[str]:
    """The first ``budget`` words of ``text`` in consecutive windows of ``window`` words.

    Examples
    --------
    >>> word_chunks("a b c d e f g", budget=5, window=2)
    ['a b', 'c d', 'e']
    >>> word_chunks("   ", budget=5, window=2)
    []
    """
    if budget < 1 or window < 1:
        raise ValueError(f"`budget` and `window` must be positive ints; got {budget} and {window}.")
    words = str(text).split()[:budget]
    return [" ".join(words[i : i + window]) for i in range(0, len(words), window)]


def embed_chunks(chunks: Sequence[Sequence[str]], embedder: Embedder) -> list[NDArray[np.float32]]:
    """Embed every answer's chunks with one embedder call; returns one ``(n_chunks, d)`` array per answer.

    Rows are unit-normalised (zero rows stay zero). An answer without chunks gets a
    ``(0, d)`` array.
    """
    flat = [c for row in chunks for c in row]
    vecs = embedder.embed(flat) if flat else np.empty((0, 0), dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True) if flat else np.ones((0, 1))
    vecs = (vecs / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    dim = vecs.shape[1] if flat else 0
    out: list[NDArray[np.float32]] = []
    pos = 0
    for row in chunks:
        out.append(vecs[pos : pos + len(row)] if row else np.empty((0, dim), dtype=np.float32))
        pos += len(row)
    return out


def coverage_matrix(chunk_embeddings: Sequence[NDArray[np.floating]]) -> NDArray[np.float64]:
    """``C[i, j] = cov(i -> j)``: how well answer ``i``'s chunks cover answer ``j``'s chunks.

    The diagonal is 0 (not used). An answer without chunks covers nothing
    (``C[i, :] = 0``) and is fully covered (``C[:, j] = 1``), so it scores lowest.

    Examples
    --------
    >>> import numpy as np
    >>> e = [np.eye(3)[:2], np.eye(3)[:1], np.eye(3)[2:]]
    >>> coverage_matrix(e)
    array([[0. , 1. , 0. ],
           [0.5, 0. , 0. ],
           [0. , 0. , 0. ]])
    """
    m = len(chunk_embeddings)
    cov = np.zeros((m, m), dtype=np.float64)
    for j in range(m):
        ej = np.asarray(chunk_embeddings[j], dtype=np.float64)
        for i in range(m):
            if i == j:
                continue
            ei = np.asarray(chunk_embeddings[i], dtype=np.float64)
            if ej.shape[0] == 0:
                cov[i, j] = 1.0
            elif ei.shape[0] == 0:
                cov[i, j] = 0.0
            else:
                cov[i, j] = float((ej @ ei.T).max(axis=1).mean())
    return cov


def coverage_scores(chunk_embeddings: Sequence[NDArray[np.floating]]) -> NDArray[np.float64]:
    """Per-candidate asymmetric coverage score for one input (higher is better; sums to 0).

    ``score_i = sum_j cov(i -> j) - cov(j -> i)`` (see the module docstring).
    """
    if len(chunk_embeddings) < 2:
        raise ValueError(f"coverage needs at least 2 answers; got {len(chunk_embeddings)}.")
    cov = coverage_matrix(chunk_embeddings)
    return cov.sum(axis=1) - cov.sum(axis=0)
