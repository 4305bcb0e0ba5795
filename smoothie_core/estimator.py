"""The scikit-learn style :class:`Smoothie` estimator: a thin shell over :mod:`smoothie_core.triplet`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smoothie_core import _io
from smoothie_core._parallel import copy_as
from smoothie_core._validation import (
    as_float_array,
    check_candidate_names,
    check_input_embeddings,
    check_n_neighbors,
    check_output_embeddings,
)
from smoothie_core.diagnostics import Reliability
from smoothie_core.exceptions import NotFittedError, StateFileError
from smoothie_core.neighbors import AutoNeighbors, NeighborIndex, exact_self_neighbors
from smoothie_core.statistics import Statistic, TripletStatistic, get_statistic
from smoothie_core.triplet import sample_deltas, select_best

__all__ = ["Smoothie"]

_FORMAT = "smoothie-router/Smoothie"
#: Version 2 records the statistic (``"statistic"``) and stores ``sample_statistics``;
#: version 1 files (triplet statistics in ``sample_deltas``) still load.
_FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)

IndexFactory = Callable[[], NeighborIndex]

_UNSET: Any = object()


class Smoothie:
    """Label-free quality weights for ``m >= 3`` candidate generators (Guha et al., 2024).

    Smoothie estimates how far each candidate's output lies from a latent true output
    from how the candidates' output embeddings agree (the "triplet" estimator), then
    weights candidates by ``theta = d / (2 delta)``, normalised.

    Parameters
    ----------
    n_neighbors : int or None, default=None
        ``None``: Smoothie-Global, one weight vector for all inputs. An int ``k``:
        Smoothie-Local, uniform average over the ``k`` nearest inputs (Euclidean on the
        input embeddings; a fitted sample is its own nearest neighbour).
    statistic : Statistic or None, default=None
        How per-sample statistics become weights (:mod:`smoothie_core.statistics`).
        ``None`` is the paper's triplet estimator, fitted from output embeddings. Any
        scorer's statistic (:mod:`smoothie_core.scorers`) is smoothed the same way:
        fit it with ``sample_statistics=`` (the scorer's rows) instead of embeddings.
    max_samples : int or None, default=None
        Keep at most this many samples; :meth:`partial_fit` drops the oldest beyond it
        (a bounded online pool). ``None`` keeps everything.
    neighbor_index : callable or None, default=None
        Factory returning an empty :class:`~smoothie_core.neighbors.NeighborIndex`;
        ``None`` uses :class:`~smoothie_core.neighbors.AutoNeighbors`: exact numpy
        search, switching to an approximate HNSW index for route-mode queries
        (:meth:`predict_weights`) above :data:`~smoothie_core.neighbors.AUTO_THRESHOLD`
        samples when the optional ``ann`` extra (faiss-cpu) is installed. The
        neighbours behind ``weights_`` (every fitted sample) are always exact.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Precision of the stored input embeddings and of the exact neighbour search.
        ``float32`` halves the memory of the state (the input embeddings dominate it);
        the per-sample statistics stay float64.

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples, n_candidates)
        Weights for every fitted sample (test-time selection). Rows sum to 1.
    global_weights_ : ndarray of shape (n_candidates,)
        Smoothie-Global weights over all fitted samples.
    sample_statistics_ : ndarray of shape (n_samples, width)
        Per-sample statistics: the whole fitted state besides the input embeddings
        (``width = n_candidates`` for the triplet statistic).
    sample_deltas_ : ndarray of shape (n_samples, n_candidates)
        The same as ``sample_statistics_`` (its name for the triplet statistic:
        smaller is better).
    input_embeddings_ : ndarray of shape (n_samples, dim_in) or None
    candidate_names_ : list of str
    n_samples_, n_candidates_, output_dim_ : int

    Notes
    -----
    The estimator is linear in squared distances, so the fitted state is one
    ``m``-vector per sample (see :func:`~smoothie_core.triplet.sample_deltas`): fitting is
    O(n m d), Global is a mean, Local a neighbour average, and :meth:`partial_fit` appends
    rows. Where all estimates are positive the weights equal the paper's normalised
    ``theta``; non-positive estimates and identical outputs are handled as described in
    :func:`~smoothie_core.triplet.weights_from_deltas` (never NaN).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=(200, 1, 32))
    >>> outputs = truth + rng.normal(size=(200, 3, 32)) * np.array([0.1, 1.0, 2.0])[:, None]
    >>> sm = Smoothie().fit(outputs)
    >>> int(sm.global_weights_.argmax())
    0
    >>> sm.weights_.shape
    (200, 3)
    >>> local = Smoothie(n_neighbors=10).fit(outputs, truth[:, 0])
    >>> local.predict(truth[:3, 0]).tolist()
    [0, 0, 0]
    """

    #: JSON metadata stored by :meth:`save` (set by :meth:`load`).
    metadata_: dict[str, Any]

    _stats: NDArray[np.float64]
    _inputs: NDArray[np.float64] | None
    _names: list[str]
    _output_dim: int | None
    _index: NeighborIndex | None
    _weights: NDArray[np.float64] | None
    _global: NDArray[np.float64] | None

    def __init__(
        self,
        n_neighbors: int | None = None,
        *,
        statistic: Statistic | None = None,
        max_samples: int | None = None,
        neighbor_index: IndexFactory | None = None,
        dtype: Any = np.float64,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.statistic = statistic
        self.max_samples = max_samples
        self.neighbor_index = neighbor_index
        self.dtype = dtype

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        output_embeddings: ArrayLike | None = None,
        input_embeddings: ArrayLike | None = None,
        *,
        sample_statistics: ArrayLike | None = None,
        candidate_names: Sequence[str] | None = None,
    ) -> Smoothie:
        """Fit per-sample statistics: from ``(n, m, d)`` output embeddings (the triplet
        statistic), or given directly as a scorer's ``sample_statistics``.

        Parameters
        ----------
        output_embeddings : array of shape (n_samples, n_candidates, dim), optional
            For the triplet statistic (the default): the per-sample statistics are
            computed from them (:func:`~smoothie_core.triplet.sample_deltas`).
        input_embeddings : array of shape (n_samples, dim_in), optional
            Required for Smoothie-Local (``n_neighbors`` is an int).
        sample_statistics : array of shape (n_samples, width), optional
            Rows of any scorer (:meth:`smoothie_core.scorers.Scorer.statistics`), for
            :attr:`statistic`; instead of ``output_embeddings``.
        candidate_names : sequence of str, optional
            Names stored with the state (default ``"0"``, ``"1"``, ...).

        Returns
        -------
        self
        """
        k = self._check_params()
        stats, output_dim = self._statistics_from(output_embeddings, sample_statistics)
        n = stats.shape[0]
        inputs = self._check_fit_inputs(input_embeddings, n, k)
        if k is not None and k > n:
            raise ValueError(
                f"`n_neighbors`={k} is larger than the number of samples n_samples={n}; "
                f"use n_neighbors <= {n} or fit on more samples."
            )
        names = self._names_for(stats, candidate_names)
        self._set_state(stats, inputs, names, output_dim)
        self._trim()
        return self

    def partial_fit(
        self,
        output_embeddings: ArrayLike | None = None,
        input_embeddings: ArrayLike | None = None,
        *,
        sample_statistics: ArrayLike | None = None,
        candidate_names: Sequence[str] | None = None,
    ) -> Smoothie:
        """Append observations without refitting from scratch (online update).

        On an unfitted estimator this is :meth:`fit` (without the ``k <= n`` check, so a
        pool can start small). Otherwise the new samples' statistics are appended; with
        ``max_samples`` set, the oldest samples beyond it are dropped.
        """
        if not self._is_fitted():
            k = self._check_params()
            stats, output_dim = self._statistics_from(output_embeddings, sample_statistics)
            inputs = self._check_fit_inputs(input_embeddings, stats.shape[0], k)
            names = self._names_for(stats, candidate_names)
            self._set_state(stats, inputs, names, output_dim)
            self._trim()
            return self
        k = self._check_params()
        if output_embeddings is not None:
            outputs = check_output_embeddings(output_embeddings, finite=False)
            if outputs.shape[1] != self.n_candidates_ or (
                self._output_dim is not None and outputs.shape[2] != self._output_dim
            ):
                raise ValueError(
                    f"`output_embeddings` must have shape (n_samples, {self.n_candidates_}, "
                    f"{self._output_dim}) like the fitted data; got {outputs.shape}."
                )
        stats, _dim = self._statistics_from(
            output_embeddings, sample_statistics, n_candidates=self.n_candidates_
        )
        n = stats.shape[0]
        if candidate_names is not None and list(candidate_names) != self.candidate_names_:
            raise ValueError(
                f"`candidate_names` must match the fitted names {self.candidate_names_}; got "
                f"{list(candidate_names)}."
            )
        if self.input_embeddings_ is None:
            if input_embeddings is not None and k is None:
                raise ValueError(
                    "This Smoothie was fitted without input embeddings; pass "
                    "input_embeddings=None to partial_fit (or refit with inputs)."
                )
            inputs = self._check_fit_inputs(input_embeddings, n, k)
        else:
            if input_embeddings is None:
                raise ValueError(
                    "This Smoothie was fitted with input embeddings; partial_fit needs "
                    f"`input_embeddings` of shape ({n}, {self.input_embeddings_.shape[1]})."
                )
            inputs = check_input_embeddings(
                input_embeddings, n_samples=n, dim=self.input_embeddings_.shape[1]
            )
        self._stats = np.concatenate([self._stats, stats])
        self._summary_added += stats.shape[0]
        if inputs is not None:
            assert self._inputs is not None
            storage = np.promote_types(self._inputs.dtype, self._storage_dtype(inputs))
            new_inputs = np.asarray(inputs, dtype=storage)
            self._inputs = np.concatenate([self._inputs.astype(storage, copy=False), new_inputs])
            if self._index is not None:
                self._index.add(new_inputs)
        self._invalidate()
        self._trim()
        return self

    # --------------------------------------------------------------- prediction
    def predict_weights(
        self,
        input_embeddings: ArrayLike,
        output_embeddings: ArrayLike | None = None,
        *,
        sample_statistics: ArrayLike | None = None,
        n_neighbors: int | None = None,
        return_neighbors: bool = False,
    ) -> Any:
        """Weights ``(n_queries, n_candidates)`` for new inputs (rows sum to 1).

        Route mode (no answers given): Smoothie-Local averages the statistics of the
        ``k`` nearest fitted inputs; Smoothie-Global uses every fitted sample.

        Select mode (the queries' answers given, as ``output_embeddings`` of shape
        ``(n_queries, n_candidates, dim)`` for the triplet statistic or as
        ``sample_statistics`` rows for any statistic): each query's own statistic
        counts as its nearest neighbour, plus its ``k - 1`` nearest fitted samples (all
        fitted samples for Global). Nothing is stored; use :meth:`partial_fit` to add
        the queries to the pool.

        ``n_neighbors`` overrides the estimator's ``k`` for this call (like
        scikit-learn's ``kneighbors(X, n_neighbors=...)``). With
        ``return_neighbors=True`` the result is ``(weights, neighbors)``: the fitted
        samples each query's weights used, ``(n_queries, k')`` (None for Global).
        """
        self._require_fitted()
        k = self._check_params() if n_neighbors is None else check_n_neighbors(n_neighbors)
        if k is not None and self._inputs is None:
            raise ValueError(
                f"Smoothie-Local (n_neighbors={k}) needs a state fitted with input_embeddings."
            )
        dim = None if self._inputs is None else self._inputs.shape[1]
        queries = check_input_embeddings(input_embeddings, dim=dim)
        q = queries.shape[0]
        new = None
        if output_embeddings is not None or sample_statistics is not None:
            if output_embeddings is not None:
                outs = check_output_embeddings(output_embeddings, finite=False)
                if (
                    outs.shape[0] != q
                    or outs.shape[1] != self.n_candidates_
                    or (self._output_dim is not None and outs.shape[2] != self._output_dim)
                ):
                    raise ValueError(
                        f"`output_embeddings` must have shape ({q}, {self.n_candidates_}, "
                        f"{self._output_dim}) to match the queries and the fitted data; got "
                        f"{outs.shape}."
                    )
            new, _ = self._statistics_from(
                output_embeddings, sample_statistics, n_candidates=self.n_candidates_
            )
            if new.shape[0] != q:
                raise ValueError(
                    f"`sample_statistics` must have one row per query ({q}); got {new.shape[0]}."
                )
        stat = self._stat()
        n = self.n_samples_
        idx: NDArray[np.intp] | None = None
        if new is None:
            if k is None:
                w = np.tile(self.global_weights_, (q, 1))
            else:
                if k > n:
                    raise ValueError(
                        f"`n_neighbors`={k} is larger than the number of fitted samples {n}."
                    )
                idx = self._search(queries, k)
                w = stat.weights(self._stats, idx, None, summary=self._summary_now())
        else:
            rows = np.concatenate([self._stats, new])
            focus = n + np.arange(q, dtype=np.intp)
            summary = self._summary_now()
            if k is None:
                w = stat.weights(rows, None, focus, base=n, summary=summary)
            elif k == 1:
                w = stat.weights(rows, focus[:, None], focus, base=n, summary=summary)
                idx = np.empty((q, 0), dtype=np.intp)
            else:
                kk = min(k - 1, n)
                idx = self._search(queries, kk)
                hoods = np.concatenate([focus[:, None], idx], axis=1)
                w = stat.weights(rows, hoods, focus, base=n, summary=summary)
        return (w, idx) if return_neighbors else w

    def predict(
        self,
        input_embeddings: ArrayLike,
        output_embeddings: ArrayLike | None = None,
        *,
        sample_statistics: ArrayLike | None = None,
        n_neighbors: int | None = None,
    ) -> NDArray[np.intp]:
        """Best candidate index per query: argmax of :meth:`predict_weights`, ties to the lowest."""
        return select_best(
            self.predict_weights(
                input_embeddings,
                output_embeddings,
                sample_statistics=sample_statistics,
                n_neighbors=n_neighbors,
            )
        )

    def decide(
        self,
        input_embedding: ArrayLike | None = None,
        sample_statistics: ArrayLike | None = None,
        *,
        n_neighbors: Any = _UNSET,
        pairwise: ArrayLike | None = None,
    ) -> tuple[NDArray[np.float64], Reliability, int]:
        """One decision with its reliability report: ``(weights (m,), report, n_used)``.

        Route mode (``sample_statistics=None``) or select mode (the query's own row
        ``(width,)`` or ``(1, width)``); the neighbourhood is as in
        :meth:`predict_weights` (Global: every fitted sample, plus the query's own row in
        select mode). ``n_used`` counts the rows the decision averaged. The report comes
        from the statistic (:meth:`smoothie_core.statistics.Statistic.decide`).
        ``n_neighbors`` overrides the estimator's (``None``: Smoothie-Global).
        """
        self._require_fitted()
        k = self._check_params() if n_neighbors is _UNSET else check_n_neighbors(n_neighbors)
        n = self.n_samples_
        stat = self._stat()
        pw = None if pairwise is None else np.asarray(pairwise, dtype=np.float64)
        own = None
        if sample_statistics is not None:
            own, _ = self._statistics_from(
                None,
                np.atleast_2d(np.asarray(sample_statistics, dtype=np.float64)),
                n_candidates=self.n_candidates_,
            )
            if own.shape[0] != 1:
                raise ValueError(f"`sample_statistics` must be one row; got {own.shape[0]}.")
        nb: NDArray[np.intp] | None = None
        if k is not None:
            if input_embedding is None or self._inputs is None:
                raise ValueError(
                    f"Smoothie-Local (n_neighbors={k}) needs the query's input embedding and a "
                    "state fitted with input_embeddings."
                )
            query = check_input_embeddings(
                np.atleast_2d(np.asarray(input_embedding)), dim=self._inputs.shape[1]
            )
            kk = min(k - 1, n) if own is not None else min(k, n)
            nb = self._search(query, kk)[0] if kk > 0 else np.empty(0, dtype=np.intp)
        summary = self._summary_now()
        if own is None:
            if nb is None:
                w, rep = stat.decide(
                    self._stats, None, None, self._names, pairwise=pw, summary=summary
                )
                return w, rep, n
            w, rep = stat.decide(self._stats, nb, None, self._names, pairwise=pw, summary=summary)
            return w, rep, len(nb)
        rows = np.concatenate([self._stats, own])
        if nb is None:
            w, rep = stat.decide(rows, None, n, self._names, base=n, pairwise=pw, summary=summary)
            return w, rep, n + 1
        hood = np.concatenate([[n], nb]).astype(np.intp)
        w, rep = stat.decide(rows, hood, n, self._names, base=n, pairwise=pw, summary=summary)
        return w, rep, len(hood)

    def kneighbors(self, input_embeddings: ArrayLike, n_neighbors: int) -> NDArray[np.intp]:
        """Indices ``(n_queries, n_neighbors)`` of the nearest fitted inputs, nearest first.

        The search behind route-mode :meth:`predict_weights` (the same index), exposed like
        scikit-learn's ``kneighbors`` so callers can reuse one search for several purposes.

        Examples
        --------
        >>> import numpy as np
        >>> lam = np.random.default_rng(0).normal(size=(4, 3, 2))
        >>> sm = Smoothie(n_neighbors=2).fit(lam, np.array([[0.0], [1.0], [5.0], [6.0]]))
        >>> sm.kneighbors(np.array([[5.4]]), 2).tolist()
        [[2, 3]]
        """
        self._require_fitted()
        k = check_n_neighbors(n_neighbors)
        if k is None:
            raise TypeError("`n_neighbors` must be a positive int; got None.")
        if self._inputs is None:
            raise ValueError("kneighbors needs a state fitted with input_embeddings.")
        if k > self.n_samples_:
            raise ValueError(
                f"`n_neighbors`={k} is larger than the number of fitted samples {self.n_samples_}."
            )
        queries = check_input_embeddings(input_embeddings, dim=self._inputs.shape[1])
        return self._search(queries, k)

    # --------------------------------------------------------------- attributes
    @property
    def weights_(self) -> NDArray[np.float64]:
        """Weights ``(n_samples, n_candidates)`` for every fitted sample (read-only)."""
        self._require_fitted()
        if self._weights is None:
            k = self._check_params()
            stat = self._stat()
            n = self.n_samples_
            focus = np.arange(n, dtype=np.intp)
            summary = self._summary_now()
            if k is None:
                w = stat.weights(self._stats, None, focus, summary=summary)
            elif k == 1:  # each sample is its own nearest neighbour: no search needed
                w = stat.weights(self._stats, focus[:, None], focus, summary=summary)
            else:
                if k > n:
                    raise ValueError(
                        f"`n_neighbors`={k} is larger than the number of fitted samples {n}."
                    )
                assert self._inputs is not None
                idx = _with_self_first(self._search_fitted(k))
                w = stat.weights(self._stats, idx, focus, summary=summary)
            self._weights = _readonly(np.ascontiguousarray(w))
        return self._weights

    @property
    def global_weights_(self) -> NDArray[np.float64]:
        """Smoothie-Global weights ``(n_candidates,)`` over all fitted samples (read-only):
        route-mode weights for an input whose answers are not known."""
        self._require_fitted()
        if self._global is None:
            w = self._stat().weights(self._stats, None, None, summary=self._summary_now())
            self._global = _readonly(w[0].copy())
        return self._global

    @property
    def sample_statistics_(self) -> NDArray[np.float64]:
        """Per-sample statistics ``(n_samples, width)`` (read-only)."""
        self._require_fitted()
        return _readonly(self._stats)

    @property
    def sample_deltas_(self) -> NDArray[np.float64]:
        """Per-sample statistics ``(n_samples, n_candidates)``; smaller is better (the
        triplet statistic's name for :attr:`sample_statistics_`)."""
        return self.sample_statistics_

    @property
    def input_embeddings_(self) -> NDArray[np.floating[Any]] | None:
        """Fitted input embeddings ``(n_samples, dim_in)``, or None if fitted without.

        Kept in their own precision when that is float32 (also under ``dtype=float64``:
        lossless, half the memory; distances are still computed in ``dtype``).
        """
        self._require_fitted()
        return None if self._inputs is None else _readonly(self._inputs)

    @property
    def n_samples_(self) -> int:
        self._require_fitted()
        return int(self._stats.shape[0])

    @property
    def n_candidates_(self) -> int:
        self._require_fitted()
        return len(self._names)

    @property
    def output_dim_(self) -> int | None:
        """Dimension of the output embeddings fitted on (None when fitted from statistics)."""
        self._require_fitted()
        return self._output_dim

    @property
    def candidate_names_(self) -> list[str]:
        self._require_fitted()
        return list(self._names)

    # ------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None) -> Path:
        """Save the fitted state to ``path`` (``.npz`` + JSON header, no pickle, atomic).

        ``metadata`` (JSON-serialisable) is stored in the header and comes back as
        ``metadata_`` after :meth:`load`. A failed or interrupted save leaves any previous
        file intact. The file gets mode 0600 (also when it replaces a file with other
        permissions); saving through a symbolic link replaces the link itself. See
        :mod:`smoothie_core._io` for the rules every written file follows.
        """
        self._require_fitted()
        stat = self._stat()
        header = {
            "metadata": metadata or {},
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "n_neighbors": self.n_neighbors,
            "max_samples": self.max_samples,
            "candidate_names": self._names,
            "output_dim": self._output_dim,
            "n_samples": self.n_samples_,
            "dtype": np.dtype(self.dtype).name,
            "statistic": {"name": stat.name, **stat.config()},
        }
        arrays: dict[str, NDArray[Any]] = {"sample_statistics": self._stats}
        if self._inputs is not None:
            arrays["input_embeddings"] = self._inputs
        return _io.save_arrays(path, header, arrays)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, neighbor_index: IndexFactory | None = None
    ) -> Smoothie:
        """Load a state written by :meth:`save`; validates format, version and shapes.

        Any malformed file raises :class:`~smoothie_core.exceptions.StateFileError`
        naming the file and the problem (sizes are checked before anything is
        allocated); an unreadable one raises :class:`PermissionError`.
        """
        header, arrays = _io.load_arrays(path, _FORMAT, max(_READABLE_VERSIONS))
        where = repr(str(path))
        try:
            key = "sample_statistics" if "sample_statistics" in arrays else "sample_deltas"
            stats = np.asarray(arrays[key])
            names = header["candidate_names"]
            output_dim = header["output_dim"]
            n_neighbors = header["n_neighbors"]
            max_samples = header["max_samples"]
        except KeyError as err:
            raise StateFileError(f"{where} is missing the field {err}.") from err
        spec = header.get("statistic", {"name": "triplet"})
        try:
            if not isinstance(spec, dict):
                raise ValueError(f"expected an object, got {type(spec).__name__}")
            spec = dict(spec)
            statistic = get_statistic(str(spec.pop("name", "")), **spec)
        except (TypeError, ValueError) as err:
            raise StateFileError(f"{where} has an invalid statistic {spec!r}: {err}") from err
        inputs = arrays.get("input_embeddings")
        problems = []
        m = len(names) if isinstance(names, list) else -1
        if stats.dtype != np.float64 or stats.ndim != 2:  # the checks below index its rows
            raise StateFileError(
                f"{where} is not a valid Smoothie state: {key} has dtype {stats.dtype} and shape "
                f"{stats.shape}; expected float64 of shape (n_samples, n_candidates)."
            )
        try:
            statistic.check_rows(stats, m)
        except ValueError as err:
            problems.append(f"{key}: {err}")
        if not isinstance(names, list) or m < 2:
            problems.append(f"candidate_names {repr(names)[:200]} is invalid")
        if header.get("n_samples") != stats.shape[0]:
            problems.append(f"n_samples {header.get('n_samples')} != {stats.shape[0]} rows")
        if inputs is not None and (
            inputs.dtype not in (np.float64, np.float32)
            or inputs.ndim != 2
            or inputs.shape[0] != stats.shape[0]
            or not np.isfinite(inputs).all()
        ):
            problems.append(f"input_embeddings has dtype {inputs.dtype} and shape {inputs.shape}")
        if n_neighbors is not None and inputs is None:
            problems.append("a Smoothie-Local state has no input_embeddings")
        if output_dim is not None and (
            isinstance(output_dim, bool) or not isinstance(output_dim, int) or output_dim < 1
        ):
            problems.append(f"output_dim {output_dim!r} is invalid")
        if problems:
            raise StateFileError(f"{where} is not a valid Smoothie state: " + "; ".join(problems))
        saved_dtype = header.get("dtype")  # absent in older files: the inputs' dtype
        if saved_dtype not in (None, "float32", "float64"):
            raise StateFileError(f"{where} is not a valid Smoothie state: dtype {saved_dtype!r}")
        try:
            if saved_dtype is not None:
                dtype: Any = np.dtype(saved_dtype)
            else:
                dtype = np.float64 if inputs is None else inputs.dtype
            est = cls(
                n_neighbors,
                statistic=statistic,
                max_samples=max_samples,
                neighbor_index=neighbor_index,
                dtype=dtype,
            )
            est._check_params()
            names = check_candidate_names(names, m)
        except (TypeError, ValueError) as err:
            raise StateFileError(f"{where} is not a valid Smoothie state: {err}") from err
        est._set_state(stats, inputs, names, output_dim)
        meta = header.get("metadata", {})
        est.metadata_ = meta if isinstance(meta, dict) else {}
        return est

    # ---------------------------------------------------------------- helpers
    def __repr__(self) -> str:
        params = [f"n_neighbors={self.n_neighbors!r}"]
        if self.statistic is not None and not isinstance(self.statistic, TripletStatistic):
            params.append(f"statistic={self.statistic!r}")
        if self.max_samples is not None:
            params.append(f"max_samples={self.max_samples!r}")
        if np.dtype(self.dtype) != np.float64:
            params.append(f"dtype={np.dtype(self.dtype).name}")
        return f"Smoothie({', '.join(params)})"

    def _stat(self) -> Statistic:
        return TripletStatistic() if self.statistic is None else self.statistic

    def _check_params(self) -> int | None:
        k = check_n_neighbors(self.n_neighbors)
        ms = self.max_samples
        if ms is not None and (
            isinstance(ms, bool) or not isinstance(ms, (int, np.integer)) or ms < 1
        ):
            raise ValueError(f"`max_samples` must be None or a positive int; got {ms!r}.")
        if np.dtype(self.dtype) not in (np.float64, np.float32):
            raise ValueError(f"`dtype` must be numpy.float64 or numpy.float32; got {self.dtype!r}.")
        if self.statistic is not None and not isinstance(self.statistic, Statistic):
            raise TypeError(
                "`statistic` must be a smoothie_core.statistics.Statistic or None; got "
                f"{type(self.statistic).__name__}."
            )
        return k

    def _statistics_from(
        self,
        output_embeddings: ArrayLike | None,
        sample_statistics: ArrayLike | None,
        *,
        n_candidates: int | None = None,
    ) -> tuple[NDArray[np.float64], int | None]:
        """Per-sample rows from exactly one of embeddings (triplet) or statistics."""
        stat = self._stat()
        if (output_embeddings is None) == (sample_statistics is None):
            raise ValueError(
                "pass exactly one of `output_embeddings` (shape (n_samples, n_candidates, dim), "
                "for the triplet statistic) and `sample_statistics` (a scorer's rows); got "
                + ("both." if output_embeddings is not None else "neither.")
            )
        if output_embeddings is not None:
            if not isinstance(stat, TripletStatistic):
                raise ValueError(
                    f"this Smoothie smooths the {stat.name!r} statistic: pass its rows as "
                    "`sample_statistics` (a scorer computes them), not output embeddings."
                )
            outputs = check_output_embeddings(output_embeddings, finite=False)
            return sample_deltas(outputs), int(outputs.shape[2])
        arr = as_float_array(sample_statistics, "sample_statistics")
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise ValueError(
                "`sample_statistics` must have shape (n_samples >= 1, width); got shape "
                f"{arr.shape}."
            )
        m = stat.n_candidates(arr.shape[1]) if n_candidates is None else n_candidates
        return stat.check_rows(arr, m), None

    def _names_for(
        self, stats: NDArray[np.float64], candidate_names: Sequence[str] | None
    ) -> list[str]:
        return check_candidate_names(candidate_names, self._stat().n_candidates(stats.shape[1]))

    def _check_fit_inputs(
        self, input_embeddings: ArrayLike | None, n: int, k: int | None
    ) -> NDArray[np.floating[Any]] | None:
        if input_embeddings is None:
            if k is not None:
                raise ValueError(
                    f"Smoothie-Local (n_neighbors={k}) needs `input_embeddings` of shape "
                    f"(n_samples, dim_in) to find neighbours; got None. Pass them, or use "
                    "n_neighbors=None for Smoothie-Global."
                )
            return None
        return check_input_embeddings(input_embeddings, n_samples=n)

    def _set_state(
        self,
        stats: NDArray[np.float64],
        inputs: NDArray[np.floating[Any]] | None,
        names: list[str],
        output_dim: int | None,
    ) -> None:
        self._stats = np.ascontiguousarray(stats, dtype=np.float64)
        self._inputs = None if inputs is None else copy_as(inputs, self._storage_dtype(inputs))
        self._names = list(names)
        self._output_dim = None if output_dim is None else int(output_dim)
        self._index = None
        self._summary: Any = None
        self._summary_valid = False
        self._summary_added = 0
        self._invalidate()

    def _storage_dtype(self, inputs: NDArray[Any]) -> np.dtype[Any]:
        """Stored precision of input embeddings: ``dtype``, except that float32 (or
        smaller) inputs stay float32 under ``dtype=float64`` (lossless, half the memory;
        every distance is still computed in ``dtype``)."""
        if np.dtype(self.dtype) == np.float32 or inputs.dtype.itemsize <= 4:
            return np.dtype(np.float32)
        return np.dtype(np.float64)

    def _invalidate(self) -> None:
        self._weights = None
        self._global = None

    def _summary_now(self) -> Any:
        """The statistic's global summary of the fitted rows (e.g. a label model's fit),
        reused across decisions and refreshed, warm-started, once the pool has grown by
        1% since it was computed (every new row while the pool is under 100 rows)."""
        n = self._stats.shape[0]
        if not self._summary_valid or self._summary_added >= max(1, n // 100):
            self._summary = self._stat().summarize(self._stats, warm=self._summary)
            self._summary_valid = True
            self._summary_added = 0
        return self._summary

    def _trim(self) -> None:
        ms = self.max_samples
        if ms is None or self._stats.shape[0] <= ms:
            return
        drop = self._stats.shape[0] - ms
        self._stats = self._stats[drop:].copy()
        if self._inputs is not None:
            self._inputs = self._inputs[drop:].copy()
        self._index = None  # rebuilt lazily on the kept rows
        self._invalidate()

    def _search_fitted(self, k: int) -> NDArray[np.intp]:
        """Neighbours of every fitted sample (test-time selection).

        With the default index this search is always exact, and done as one all-pairs
        search (:func:`~smoothie_core.neighbors.exact_self_neighbors`): an approximate
        index pays off for a few route-mode queries against a large pool, not for ``n``
        queries against ``n`` rows (measured in benchmarks/bench_estimator.py).
        """
        assert self._inputs is not None
        if self.neighbor_index is None:
            return exact_self_neighbors(self._inputs, k, dtype=self.dtype)
        return self._search(self._inputs, k)

    def _search(self, queries: NDArray[np.floating[Any]], k: int) -> NDArray[np.intp]:
        if self._index is None:
            assert self._inputs is not None
            index = (
                self.neighbor_index()
                if self.neighbor_index is not None
                else AutoNeighbors(dtype=self.dtype)
            )
            index.add(self._inputs)
            self._index = index
        assert self._inputs is not None
        return np.asarray(
            self._index.search(np.asarray(queries, dtype=self.dtype), k), dtype=np.intp
        )

    def _is_fitted(self) -> bool:
        return hasattr(self, "_stats")

    def _require_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                "This Smoothie instance is not fitted yet; call fit first with "
                "output_embeddings of shape (n_samples, n_candidates, dim) (or a scorer's "
                "sample_statistics)."
            )


def _with_self_first(idx: NDArray[np.intp]) -> NDArray[np.intp]:
    """Make sample ``i`` the first neighbour of row ``i`` (a sample is its own nearest
    neighbour even when another input is an exact duplicate)."""
    rows = np.arange(idx.shape[0])
    is_self = idx == rows[:, None]
    out = idx.copy()
    has_self = is_self.any(axis=1)
    # rows that contain self: move self to the front, keep the others' order
    for r in np.flatnonzero(has_self & ~is_self[:, 0]):
        others = out[r][out[r] != r]
        out[r] = np.concatenate([[r], others])
    # rows that lost self to a tie: self replaces the farthest neighbour
    missing = np.flatnonzero(~has_self)
    if missing.size:
        out[missing, 1:] = out[missing, :-1]
        out[missing, 0] = missing
    return out


def _readonly(arr: NDArray[Any]) -> NDArray[Any]:
    view = arr.view()
    view.flags.writeable = False
    return view
