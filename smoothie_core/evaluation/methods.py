"""Label-free methods by name: the registries the evaluation harness runs, in both modes.

**Select mode** (the paper's test-time regime: every candidate answered every input). A
method sees one pool's texts, per-input task names and embeddings — never the labels —
and returns, for every input, the index of the candidate it picks::

    def my_method(data: EnsembleData) -> numpy.ndarray:  # shape (n_inputs,), ints
        ...
    register_method("my_method", my_method)

**Route mode** (calibrate once, then call one model per input). A method sees the
calibration part (inputs, every candidate's outputs, task names, embeddings — no
labels) and only the inputs and task names of the routed part (no outputs, no labels),
and returns a pick per routed input::

    def my_router(data: RouteData) -> numpy.ndarray:  # shape (n_routed,), ints
        ...
    register_route_method("my_router", my_router)

Labels never reach a method: :class:`EnsembleData` and :class:`RouteData` have no label
field, and the harness keeps the labels apart. Embeddings are computed lazily, on
first access of ``output_embeddings`` / ``input_embeddings`` (embedding long outputs
is the dominant cost; a method comparing final answers never pays it).

Parametrised families take an integer suffix, e.g. ``smoothie_local_k20`` is
``smoothie_local_k`` with ``k = 20`` (see :func:`register_family` and
:func:`register_route_family`). ``"package.module:function"`` names a method defined
outside the library.

Built in (select mode):

``smoothie_global``
    Smoothie-Global (the paper): one candidate for all inputs.
``smoothie_global_per_task``
    Smoothie-Global fitted on each task's inputs separately: one candidate per task (the
    paper's "identify the best model for a task").
``smoothie_local_k{K}``
    Smoothie-Local (the paper): per-input weights from the ``K`` nearest inputs (by
    input embedding), the input itself included.
``smoothie_local_eb_k{K}``
    Smoothie-Local shrunk towards Global by empirical Bayes (our addition, label-free):
    per candidate, the neighbourhood mean of the per-sample statistic is pulled
    towards the global mean by ``B = (s2 / K) / (s2 / K + t2)``, where ``s2`` is the
    variance of the per-sample statistic and ``t2`` the variance of the neighbourhood
    means beyond what ``s2 / K`` explains (James–Stein; no tuning parameter).
``smoothie_kernel``
    Smoothie with Gaussian kernel weights over all inputs instead of a hard kNN
    (our addition, label-free): bandwidth = median distance to the 20th nearest
    input.

Built in (route mode):

``route_global``
    Smoothie-Global fitted on the calibration part: one candidate for every routed input.
``route_local_k{K}``
    Smoothie-Local: per routed input, the statistics of its ``K`` nearest calibration
    inputs (``Smoothie(n_neighbors=K).predict``).
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smoothie_core.embedders import Embedder
from smoothie_core.estimator import Smoothie
from smoothie_core.neighbors import exact_self_neighbors
from smoothie_core.triplet import sample_deltas, select_best, weights_from_deltas

__all__ = [
    "EnsembleData",
    "MethodResult",
    "RouteData",
    "MethodFn",
    "RouteMethodFn",
    "register_method",
    "register_family",
    "get_method",
    "available_methods",
    "register_route_method",
    "register_route_family",
    "get_route_method",
    "available_route_methods",
    "DEFAULT_METHODS",
]

#: Vectors, or a zero-argument function computing them on first use.
LazyArray = ArrayLike | Callable[[], ArrayLike] | None


class _Lazy:
    """An array given directly or computed once, on first access, by a function."""

    __slots__ = ("_lock", "_make", "_value", "_what")

    def __init__(self, value: LazyArray, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        if callable(value):
            self._value: NDArray[np.float32] | None = None
            self._make: Callable[[], ArrayLike] | None = value
        else:
            self._value = None if value is None else _readonly(value)
            self._make = None

    @property
    def computed(self) -> bool:
        return self._value is not None

    def get(self) -> NDArray[np.float32]:
        with self._lock:
            if self._value is None:
                if self._make is None:
                    raise ValueError(
                        f"no {self._what} were given to this data object; pass them (an array "
                        "or a function computing it) when building it."
                    )
                self._value = _readonly(self._make())
                self._make = None
            return self._value


def _readonly(value: ArrayLike) -> NDArray[np.float32]:
    arr = np.asarray(value)
    if arr.dtype != np.float32 and np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    arr = arr.view()
    arr.flags.writeable = False
    return arr


class EnsembleData:
    """What a select-mode method may look at for one pool: texts, task names, embeddings.

    There is no label here, by construction: the harness keeps labels apart.

    Parameters
    ----------
    models : sequence of str
        Candidate names, ``m`` of them.
    instructions : sequence of str, length n
        The inputs (prompts), in the pool's order.
    outputs : sequence of sequence of str, shape (n, m)
    output_embeddings : array of shape (n, m, d), or a function returning it, optional
        A function is called once, on first access (lazy: methods that never look at
        embeddings never pay for them).
    input_embeddings : array of shape (n, d_in), or a function returning it, optional
    embedder : Embedder or None
        The evaluation's embedder, for methods that embed other texts (e.g. sentences).
    tasks : sequence of str, optional
        The task name of each input (default: one task, ``"all"``).
    output_embeddings_cheap : bool, optional
        Whether the output embeddings are precomputed (free to read).

    Examples
    --------
    >>> import numpy as np
    >>> calls = []
    >>> data = EnsembleData(["a", "b", "c"], ["q1", "q2"], [["x", "y", "z"]] * 2,
    ...     output_embeddings=lambda: calls.append(1) or np.zeros((2, 3, 4)))
    >>> data.n_inputs, data.tasks, calls
    (2, ['all', 'all'], [])
    >>> data.output_embeddings.shape, data.output_embeddings.dtype, calls
    ((2, 3, 4), dtype('float32'), [1])
    """

    __slots__ = (
        "_in",
        "_out",
        "embedder",
        "instructions",
        "models",
        "output_embeddings_cheap",
        "outputs",
        "tasks",
    )

    def __init__(
        self,
        models: Sequence[str],
        instructions: Sequence[str],
        outputs: Sequence[Sequence[str]],
        output_embeddings: LazyArray = None,
        input_embeddings: LazyArray = None,
        embedder: Embedder | None = None,
        *,
        tasks: Sequence[str] | None = None,
        output_embeddings_cheap: bool = False,
    ) -> None:
        n = len(instructions)
        self.models = list(models)
        self.instructions = list(instructions)
        self.outputs = [list(row) for row in outputs]
        self.tasks = ["all"] * n if tasks is None else [str(t) for t in tasks]
        if len(self.outputs) != n or len(self.tasks) != n:
            raise ValueError(
                f"`outputs` and `tasks` must have one entry per input ({n}); got "
                f"{len(self.outputs)} and {len(self.tasks)}."
            )
        self.embedder = embedder
        #: True when :attr:`output_embeddings` cost nothing to compute (precomputed vectors),
        #: so methods may use them for any output text they need.
        self.output_embeddings_cheap = bool(output_embeddings_cheap)
        self._out = _Lazy(output_embeddings, "output embeddings")
        self._in = _Lazy(input_embeddings, "input embeddings")

    @property
    def inputs(self) -> list[str]:
        """The inputs (same as :attr:`instructions`)."""
        return self.instructions

    @property
    def n_inputs(self) -> int:
        return len(self.instructions)

    @property
    def n_instructions(self) -> int:
        return len(self.instructions)

    @property
    def output_embeddings(self) -> NDArray[np.float32]:
        """``(n, m, d)`` float32, read-only; computed on first access when lazy."""
        return self._out.get()

    @property
    def input_embeddings(self) -> NDArray[np.float32]:
        """``(n, d_in)`` float32, read-only; computed on first access when lazy."""
        return self._in.get()

    @property
    def output_embeddings_computed(self) -> bool:
        """Whether :attr:`output_embeddings` has been computed (or was given)."""
        return self._out.computed

    def __repr__(self) -> str:
        return f"EnsembleData(models={self.models}, n_inputs={self.n_inputs})"


class RouteData:
    """What a route-mode method may look at: the calibration part, the routed inputs.

    Parameters
    ----------
    calibration : EnsembleData
        The calibration part: inputs, every candidate's outputs, task names, embeddings.
    inputs : sequence of str
        The routed inputs (no outputs: routing decides which one model to call).
    tasks : sequence of str, optional
        Task name of each routed input (default ``"all"``).
    input_embeddings : array of shape (q, d_in), or a function returning it, optional
        Embeddings of the routed inputs (same embedder as the calibration inputs).

    Examples
    --------
    >>> import numpy as np
    >>> cal = EnsembleData(["a", "b", "c"], ["q1"], [["x", "y", "z"]])
    >>> data = RouteData(cal, ["q2", "q3"], input_embeddings=np.ones((2, 4)))
    >>> data.models, data.n_inputs, data.input_embeddings.shape
    (['a', 'b', 'c'], 2, (2, 4))
    """

    __slots__ = ("_in", "calibration", "inputs", "tasks")

    def __init__(
        self,
        calibration: EnsembleData,
        inputs: Sequence[str],
        *,
        tasks: Sequence[str] | None = None,
        input_embeddings: LazyArray = None,
    ) -> None:
        self.calibration = calibration
        self.inputs = list(inputs)
        self.tasks = ["all"] * len(self.inputs) if tasks is None else [str(t) for t in tasks]
        if len(self.tasks) != len(self.inputs):
            raise ValueError(
                f"`tasks` must have one entry per routed input ({len(self.inputs)}); got "
                f"{len(self.tasks)}."
            )
        self._in = _Lazy(input_embeddings, "routed input embeddings")

    @property
    def models(self) -> list[str]:
        return self.calibration.models

    @property
    def embedder(self) -> Embedder | None:
        return self.calibration.embedder

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def input_embeddings(self) -> NDArray[np.float32]:
        """``(q, d_in)`` float32 embeddings of the routed inputs (lazy)."""
        return self._in.get()

    def __repr__(self) -> str:
        return (
            f"RouteData(models={self.models}, n_calibration={self.calibration.n_inputs}, "
            f"n_inputs={self.n_inputs})"
        )


class MethodResult:
    """A method's picks with, optionally, each decision's reliability in [0, 1].

    Methods may return plain picks; returning a ``MethodResult`` with ``reliability``
    lets the harness report how well the reliability predicts a good pick (AUC) and
    what abstaining to a declared default below 0.5 would score.

    Examples
    --------
    >>> import numpy as np
    >>> r = MethodResult(np.array([0, 2]), reliability=np.array([0.9, 0.2]))
    >>> r.picks.tolist(), r.reliability.tolist()
    ([0, 2], [0.9, 0.2])
    """

    __slots__ = ("picks", "reliability")

    def __init__(self, picks: ArrayLike, reliability: ArrayLike | None = None) -> None:
        self.picks = np.asarray(picks)
        self.reliability = (
            None if reliability is None else np.asarray(reliability, dtype=np.float64)
        )
        if self.reliability is not None and self.reliability.shape != self.picks.shape:
            raise ValueError(
                f"`reliability` must have one value per pick {self.picks.shape}; got "
                f"{self.reliability.shape}."
            )

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        return self.picks if dtype is None else self.picks.astype(dtype)


#: A select-mode method: pool data -> picked candidate index per input, shape (n,).
MethodFn = Callable[[EnsembleData], "NDArray[np.intp] | MethodResult"]
#: A route-mode method: route data -> picked candidate index per routed input, shape (q,).
RouteMethodFn = Callable[[RouteData], "NDArray[np.intp] | MethodResult"]

F = TypeVar("F")


class _Registry(Generic[F]):
    """Names -> methods, plus families ``{prefix}{K}`` built by a factory."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.methods: dict[str, F] = {}
        self.families: dict[str, Callable[[int], F]] = {}
        self._lock = threading.Lock()

    def register(self, name: str, fn: F, *, overwrite: bool = False) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise ValueError(f"method names must be identifiers like 'my_method'; got {name!r}.")
        if not callable(fn):
            raise TypeError(f"a {self.kind} must be callable; got {type(fn).__name__}.")
        with self._lock:
            if not overwrite and (name in self.methods or self.family_of(name) is not None):
                raise ValueError(
                    f"a {self.kind} named {name!r} is already registered; pass overwrite=True."
                )
            self.methods[name] = fn

    def register_family(self, prefix: str, factory: Callable[[int], F]) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", prefix):
            raise ValueError(f"family prefixes must be identifiers; got {prefix!r}.")
        with self._lock:
            self.families[prefix] = factory

    def family_of(self, name: str) -> tuple[str, int] | None:
        for prefix in sorted(self.families, key=len, reverse=True):
            m = re.fullmatch(re.escape(prefix) + r"([1-9][0-9]*)", name)
            if m:
                return prefix, int(m.group(1))
        return None

    def has(self, name: str) -> bool:
        _load_builtins()
        return name in self.methods or self.family_of(name) is not None

    def get(self, name: str) -> F:
        _load_builtins()
        if name in self.methods:
            return self.methods[name]
        if ":" in name:
            module, _, attr = name.partition(":")
            try:
                fn = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as err:
                raise ValueError(
                    f"cannot load {self.kind} {name!r} ('module:function'): {err}"
                ) from err
            if not callable(fn):
                raise ValueError(f"{self.kind} {name!r} is not callable; got {type(fn).__name__}.")
            out: F = fn
            return out
        fam = self.family_of(name)
        if fam is not None:
            return self.families[fam[0]](fam[1])
        raise ValueError(f"unknown {self.kind} {name!r}; available: {', '.join(self.available())}.")

    def available(self) -> list[str]:
        _load_builtins()
        return sorted(self.methods) + sorted(f"{p}{{K}}" for p in self.families)


#: Modules defining built-in methods, loaded by the registries on first lookup (not as a
#: side effect of importing the package): abstention variants, and every scorer as a
#: method plus ``router_default``.
_BUILTIN_MODULES = ("smoothie_core.evaluation.abstaining", "smoothie_core.evaluation.scoring")
_builtins_loaded = False
_builtins_lock = threading.RLock()


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    with _builtins_lock:
        if _builtins_loaded:
            return
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


_SELECT: _Registry[MethodFn] = _Registry("method")
_ROUTE: _Registry[RouteMethodFn] = _Registry("route-mode method")

#: Label-free methods run when none are named (the Local ones come from ``--k``).
DEFAULT_METHODS: tuple[str, ...] = ("smoothie_global", "smoothie_global_per_task")


def register_method(name: str, fn: MethodFn, *, overwrite: bool = False) -> None:
    """Make the select-mode method ``fn`` available to the harness as ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> first = lambda d: np.zeros(d.n_inputs, dtype=np.intp)
    >>> register_method("first_candidate", first, overwrite=True)
    >>> "first_candidate" in available_methods()
    True
    """
    _SELECT.register(name, fn, overwrite=overwrite)


def register_family(prefix: str, factory: Callable[[int], MethodFn]) -> None:
    """Register select-mode ``{prefix}{K}`` for every positive int ``K``: ``factory(K)`` builds it."""
    _SELECT.register_family(prefix, factory)


def get_method(name: str) -> MethodFn:
    """The select-mode method ``name`` (or built from a family, e.g. ``smoothie_local_k5``).

    ``"package.module:function"`` imports ``function`` from ``package.module`` (a method
    defined outside the library, e.g. ``--methods mymethods:longest``).
    """
    return _SELECT.get(name)


def available_methods() -> list[str]:
    """Registered select-mode names, families shown as ``prefix{K}``."""
    return _SELECT.available()


def register_route_method(name: str, fn: RouteMethodFn, *, overwrite: bool = False) -> None:
    """Make the route-mode method ``fn`` (:class:`RouteData` -> picks) available as ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> first = lambda d: np.zeros(d.n_inputs, dtype=np.intp)
    >>> register_route_method("route_first", first, overwrite=True)
    >>> "route_first" in available_route_methods()
    True
    """
    _ROUTE.register(name, fn, overwrite=overwrite)


def register_route_family(prefix: str, factory: Callable[[int], RouteMethodFn]) -> None:
    """Register route-mode ``{prefix}{K}`` for every positive int ``K``."""
    _ROUTE.register_family(prefix, factory)


def get_route_method(name: str) -> RouteMethodFn:
    """The route-mode method ``name`` (families and ``module:function`` as :func:`get_method`)."""
    return _ROUTE.get(name)


def available_route_methods() -> list[str]:
    """Registered route-mode names, families shown as ``prefix{K}``."""
    return _ROUTE.available()


def is_method(name: str) -> bool:
    """Whether ``name`` is a registered select-mode method or family member."""
    return _SELECT.has(name)


def is_route_method(name: str) -> bool:
    """Whether ``name`` is a registered route-mode method or family member."""
    return _ROUTE.has(name)


# ---------------------------------------------------------------- built-ins
def global_weights(data: EnsembleData) -> NDArray[np.float64]:
    """Smoothie-Global weights ``(m,)`` of an ensemble."""
    return Smoothie().fit(data.output_embeddings).global_weights_


def smoothie_global(data: EnsembleData) -> NDArray[np.intp]:
    """Smoothie-Global: the candidate with the largest global weight, for every input."""
    best = int(select_best(global_weights(data)))
    return np.full(data.n_inputs, best, dtype=np.intp)


def task_global_weights(data: EnsembleData) -> dict[str, NDArray[np.float64]]:
    """Smoothie-Global weights ``(m,)`` fitted on each task's inputs, by task name."""
    tasks = np.asarray(data.tasks)
    outs = data.output_embeddings
    return {
        str(t): Smoothie().fit(outs[tasks == t]).global_weights_ for t in dict.fromkeys(data.tasks)
    }


def smoothie_global_per_task(data: EnsembleData) -> NDArray[np.intp]:
    """Smoothie-Global per task: each task's inputs get that task's Global pick."""
    picks = np.empty(data.n_inputs, dtype=np.intp)
    tasks = np.asarray(data.tasks)
    for task, weights in task_global_weights(data).items():
        picks[tasks == task] = int(select_best(weights))
    return picks


def _local(k: int) -> MethodFn:
    def smoothie_local(data: EnsembleData) -> NDArray[np.intp]:
        kk = min(k, data.n_inputs)
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
        kk = min(k, data.n_inputs)
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


def route_global(data: RouteData) -> NDArray[np.intp]:
    """Route mode, Smoothie-Global: the calibration part's Global pick for every input."""
    best = int(select_best(global_weights(data.calibration)))
    return np.full(data.n_inputs, best, dtype=np.intp)


def _route_local(k: int) -> RouteMethodFn:
    def route_local(data: RouteData) -> NDArray[np.intp]:
        cal = data.calibration
        kk = min(k, cal.n_inputs)
        est = Smoothie(n_neighbors=kk).fit(cal.output_embeddings, cal.input_embeddings)
        if data.n_inputs == 0:
            return np.empty(0, dtype=np.intp)
        return est.predict(data.input_embeddings)

    return route_local


register_method("smoothie_global", smoothie_global)
register_method("smoothie_global_per_task", smoothie_global_per_task)
register_method("smoothie_kernel", smoothie_kernel)
register_family("smoothie_local_k", _local)
register_family("smoothie_local_eb_k", _local_eb)
register_route_method("route_global", route_global)
register_route_family("route_local_k", _route_local)
