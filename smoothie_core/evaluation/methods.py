"""Label-free selection methods by name: a registry the evaluation harness runs.

A method sees one ensemble's texts and embeddings — never the labels — and returns,
for every instruction, the index of the candidate it picks::

    def my_method(data: EnsembleData) -> numpy.ndarray:  # shape (n_instructions,), ints
        ...
    register_method("my_method", my_method)

Parametrised families take an integer suffix, e.g. ``smoothie_local_k20`` is
``smoothie_local_k`` with ``k = 20`` (see :func:`register_family`).

Built in:

``smoothie_global``
    Smoothie-Global (the paper): one candidate for all instructions.
``smoothie_local_k{K}``
    Smoothie-Local (the paper): per-instruction weights from the ``K`` nearest
    instructions (by instruction embedding), the instruction itself included.
``smoothie_local_eb_k{K}``
    Smoothie-Local shrunk towards Global by empirical Bayes (our addition, label-free):
    per candidate, the neighbourhood mean of the per-sample statistic is pulled
    towards the global mean by ``B = (s2 / K) / (s2 / K + t2)``, where ``s2`` is the
    variance of the per-sample statistic and ``t2`` the variance of the neighbourhood
    means beyond what ``s2 / K`` explains (James–Stein; no tuning parameter).
``smoothie_kernel``
    Smoothie with Gaussian kernel weights over all instructions instead of a hard kNN
    (our addition, label-free): bandwidth = median distance to the 20th nearest
    instruction.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from smoothie_core.embedders import Embedder
from smoothie_core.estimator import Smoothie
from smoothie_core.neighbors import exact_self_neighbors
from smoothie_core.triplet import sample_deltas, select_best, weights_from_deltas

__all__ = [
    "EnsembleData",
    "MethodFn",
    "register_method",
    "register_family",
    "get_method",
    "available_methods",
    "DEFAULT_METHODS",
]


@dataclass(frozen=True)
class EnsembleData:
    """What a label-free method may look at for one ensemble (no labels).

    Attributes
    ----------
    models : list of str
        Candidate names, ``m`` of them.
    instructions : list of str, length n
    outputs : list of list of str, shape (n, m)
    output_embeddings : ndarray of shape (n, m, d), float32
    input_embeddings : ndarray of shape (n, d_in), float32
    embedder : Embedder or None
        The evaluation's embedder, for methods that embed other texts (e.g. sentences).
    """

    models: list[str]
    instructions: list[str]
    outputs: list[list[str]]
    output_embeddings: NDArray[np.float32]
    input_embeddings: NDArray[np.float32]
    embedder: Embedder | None = None

    @property
    def n_instructions(self) -> int:
        return len(self.instructions)


#: A method: ensemble data -> picked candidate index per instruction, shape (n,).
MethodFn = Callable[[EnsembleData], NDArray[np.intp]]

_METHODS: dict[str, MethodFn] = {}
_FAMILIES: dict[str, Callable[[int], MethodFn]] = {}

#: Label-free methods run when none are named (the Local ones come from ``--k``).
DEFAULT_METHODS: tuple[str, ...] = ("smoothie_global",)


def register_method(name: str, fn: MethodFn, *, overwrite: bool = False) -> None:
    """Make ``fn`` available to the harness as ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> first = lambda d: np.zeros(d.n_instructions, dtype=np.intp)
    >>> register_method("first_candidate", first, overwrite=True)
    >>> "first_candidate" in available_methods()
    True
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise ValueError(f"method names must be identifiers like 'my_method'; got {name!r}.")
    if not overwrite and (name in _METHODS or _family_of(name) is not None):
        raise ValueError(f"a method named {name!r} is already registered; pass overwrite=True.")
    _METHODS[name] = fn


def register_family(prefix: str, factory: Callable[[int], MethodFn]) -> None:
    """Register ``{prefix}{K}`` for every positive int ``K``: ``factory(K)`` builds the method."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", prefix):
        raise ValueError(f"family prefixes must be identifiers; got {prefix!r}.")
    _FAMILIES[prefix] = factory


def _family_of(name: str) -> tuple[str, int] | None:
    for prefix in sorted(_FAMILIES, key=len, reverse=True):
        m = re.fullmatch(re.escape(prefix) + r"([1-9][0-9]*)", name)
        if m:
            return prefix, int(m.group(1))
    return None


def get_method(name: str) -> MethodFn:
    """The method registered as ``name`` (or built from a family, e.g. ``smoothie_local_k5``).

    ``"package.module:function"`` imports ``function`` from ``package.module`` (a method
    defined outside the library, e.g. ``--methods mymethods:longest``).
    """
    if name in _METHODS:
        return _METHODS[name]
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"cannot load method {name!r} ('module:function'): {err}") from err
        if not callable(fn):
            raise ValueError(f"method {name!r} is not callable; got {type(fn).__name__}.")
        return fn
    fam = _family_of(name)
    if fam is not None:
        return _FAMILIES[fam[0]](fam[1])
    raise ValueError(f"unknown method {name!r}; available: {', '.join(available_methods())}.")


def available_methods() -> list[str]:
    """Registered names, families shown as ``prefix{K}``."""
    return sorted(_METHODS) + sorted(f"{p}{{K}}" for p in _FAMILIES)


# ---------------------------------------------------------------- built-ins
def global_weights(data: EnsembleData) -> NDArray[np.float64]:
    """Smoothie-Global weights ``(m,)`` of an ensemble."""
    return Smoothie().fit(data.output_embeddings).global_weights_


def smoothie_global(data: EnsembleData) -> NDArray[np.intp]:
    """Smoothie-Global: the candidate with the largest global weight, for every instruction."""
    best = int(select_best(global_weights(data)))
    return np.full(data.n_instructions, best, dtype=np.intp)


def _local(k: int) -> MethodFn:
    def smoothie_local(data: EnsembleData) -> NDArray[np.intp]:
        kk = min(k, data.n_instructions)
        est = Smoothie(n_neighbors=kk).fit(data.output_embeddings, data.input_embeddings)
        return select_best(est.weights_)

    return smoothie_local


def _neighbors_self_first(inputs: NDArray[Any], k: int) -> NDArray[np.intp]:
    idx = exact_self_neighbors(inputs, k)
    rows = np.arange(len(inputs))
    # a sample is its own nearest neighbour (duplicates could displace it)
    has_self = (idx == rows[:, None]).any(axis=1)
    idx[~has_self, -1] = rows[~has_self]
    return idx


def shrunk_local_deltas(
    deltas: NDArray[np.float64], neighbors: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Neighbourhood means of ``deltas`` shrunk towards the global mean (James–Stein).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    >>> shrunk_local_deltas(d, np.array([[0], [1], [2]]))  # no spread: the global mean
    array([[1., 2., 3.],
           [1., 2., 3.],
           [1., 2., 3.]])
    """
    k = neighbors.shape[1]
    glob = deltas.mean(axis=0)
    local = deltas[neighbors].mean(axis=1)
    noise = deltas.var(axis=0, ddof=1) / k if len(deltas) > 1 else np.zeros_like(glob)
    signal = np.maximum(local.var(axis=0, ddof=1) - noise, 0.0) if len(deltas) > 1 else noise
    total = noise + signal
    keep = np.divide(signal, total, out=np.zeros_like(total), where=total > 0)
    return glob + keep * (local - glob)


def _local_eb(k: int) -> MethodFn:
    def smoothie_local_eb(data: EnsembleData) -> NDArray[np.intp]:
        kk = min(k, data.n_instructions)
        deltas = sample_deltas(data.output_embeddings)
        idx = _neighbors_self_first(data.input_embeddings, kk)
        return select_best(weights_from_deltas(shrunk_local_deltas(deltas, idx)))

    return smoothie_local_eb


def smoothie_kernel(data: EnsembleData) -> NDArray[np.intp]:
    """Gaussian-kernel Smoothie-Local (bandwidth: median distance to the 20th neighbour)."""
    deltas = sample_deltas(data.output_embeddings)
    x = np.asarray(data.input_embeddings, dtype=np.float64)
    sq = np.einsum("nd,nd->n", x, x)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    kth = min(20, len(x) - 1)
    h2 = float(np.median(np.partition(d2, kth, axis=1)[:, kth])) if kth > 0 else 1.0
    kern = np.exp(-d2 / max(h2, np.finfo(float).tiny))
    kern /= kern.sum(axis=1, keepdims=True)
    return select_best(weights_from_deltas(kern @ deltas))


register_method("smoothie_global", smoothie_global)
register_method("smoothie_kernel", smoothie_kernel)
register_family("smoothie_local_k", _local)
register_family("smoothie_local_eb_k", _local_eb)
