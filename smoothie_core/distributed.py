"""Batch selection on Ray Data (select mode at scale): map, reduce, broadcast.

Smoothie's state is one ``m``-vector of statistics per sample, so batch selection
is a map (embed each row's input and answers, compute its statistic) followed by
a reduce (Smoothie-Global: the mean statistic) or a broadcast (Smoothie-Local: every
worker gets the pool of input embeddings and statistics and averages each row's
nearest neighbours). :func:`select_ray` runs that on a Ray Dataset with
``map_batches``; it needs the optional ``ray`` extra
(``pip install 'smoothie-router[ray]'``). Nothing here is imported by
``smoothie_core`` itself.

Semantics are those of ``smoothie select`` on one machine (the single-machine path):

* ``n_neighbors=1``: each row's answers are scored on their own
  (:meth:`smoothie_core.Router.select`, with its fallbacks for fewer than 3 answers and
  identical answers);
* ``n_neighbors=k > 1``: rows where every candidate answered get the weights of
  ``Smoothie(n_neighbors=k).fit(outputs, inputs).weights_`` over those rows (``k`` capped
  at their number); rows with a failed candidate are scored on their own;
* ``n_neighbors=None``: Smoothie-Global over the complete rows
  (``Smoothie().fit(outputs).global_weights_``); rows with a failed candidate are
  scored on their own.

Rows carry a unique integer id (``id_column``, numbered automatically for files): it
orders the broadcast pool, so ties between equally near inputs go to the lower id as
they go to the earlier line on one machine, and it orders the results. Per-sample and
Local weights are bitwise those of the single-machine path (the neighbour search gives
the same neighbours whichever queries share a batch); Global weights equal them up to
the order of a floating-point sum (partial sums per block), which leaves the selections
unchanged except for exact ties. Like ``Smoothie.weights_``, the Local search is exact
unless ``neighbor_index`` says otherwise (an approximate index pays off for a few
queries against a large pool, not for n queries against n rows).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from smoothie_core.embedders import CachedEmbedder, Embedder, load_embedder
from smoothie_core.neighbors import ExactNeighbors, NeighborIndex
from smoothie_core.triplet import neighbor_mean, sample_deltas, select_best, weights_from_deltas

if TYPE_CHECKING:  # pragma: no cover
    import ray.data

    from smoothie_core.router import Decision

__all__ = ["RAY_INSTALL_HINT", "decisions_ray", "select_ray"]

RAY_INSTALL_HINT = "pip install 'smoothie-router[ray]'"

_DELTAS = "_smoothie_deltas"
_INPUT_EMB = "_smoothie_input_embedding"
_COMPLETE = "_smoothie_complete"
_OUT_COLUMNS = ("selected", "text", "weights", "fallback", "n_neighbors")

EmbedderSpec = str | Callable[[], Embedder] | None


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise ImportError(
            f"select_ray needs Ray Data, an optional extra: {RAY_INSTALL_HINT}"
        ) from err
    return ray


def _make_embedder(spec: EmbedderSpec, cache_dir: str | None) -> Embedder:
    embedder = spec() if callable(spec) else load_embedder(spec)
    return CachedEmbedder(embedder, cache_dir) if cache_dir is not None else embedder


class _Prepared:
    """An embedder answering from one batched embedding call."""

    def __init__(self, embedder: Embedder, texts: Sequence[str]) -> None:
        self.id = embedder.id
        unique = list(dict.fromkeys(texts))
        vectors = np.asarray(embedder.embed(unique), dtype=np.float32) if unique else None
        self._rows = {t: vectors[i] for i, t in enumerate(unique)} if vectors is not None else {}

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.stack([self._rows[t] for t in texts]).astype(np.float32, copy=False)


def _text_column(batch: dict[str, Any], name: str) -> list[str | None]:
    return [None if v is None else str(v) for v in batch[name].tolist()]


def _empty_decisions(n: int, m: int) -> dict[str, Any]:
    return {
        "selected": np.full(n, None, dtype=object),
        "text": np.full(n, None, dtype=object),
        "weights": np.full((n, m), np.nan),
        "fallback": np.full(n, None, dtype=object),
        "n_neighbors": np.zeros(n, dtype=np.int64),
    }


class _StatsUDF:
    """Map step: embed a batch (one embedder call), per-row statistics, per-row decisions."""

    def __init__(
        self,
        names: list[str],
        input_column: str,
        embedder: EmbedderSpec,
        cache_dir: str | None,
        n_neighbors: int | None,
    ) -> None:
        self.names = names
        self.input_column = input_column
        self.embedder = _make_embedder(embedder, cache_dir)
        self.n_neighbors = n_neighbors

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from smoothie_core.router import Router

        names, k = self.names, self.n_neighbors
        inputs = _text_column(batch, self.input_column)
        answers = {c: _text_column(batch, c) for c in names}
        n, m = len(inputs), len(names)
        for i, text in enumerate(inputs):
            if text is None:
                raise ValueError(
                    f"row {i} of a batch has no input text in column {self.input_column!r}; "
                    "every row needs an input string."
                )
        complete = np.array([all(answers[c][i] is not None for c in names) for i in range(n)])
        texts = [str(a) for c in names for a in answers[c] if a is not None]
        need_inputs = k is not None and k > 1
        if need_inputs:
            texts += [str(t) for t in inputs]
        prepared = _Prepared(self.embedder, texts)
        out = dict(batch)
        out.update(_empty_decisions(n, m))
        deltas = np.full((n, m), np.nan)
        rows = np.flatnonzero(complete)
        if rows.size:
            outs = np.stack([prepared.embed([str(answers[c][i]) for c in names]) for i in rows])
            deltas[rows] = sample_deltas(outs)
        if need_inputs:
            dim = prepared.embed([str(inputs[0])]).shape[1]
            emb = np.zeros((n, dim), dtype=np.float32)
            emb[rows] = prepared.embed([str(inputs[i]) for i in rows]) if rows.size else emb[rows]
            out[_INPUT_EMB] = emb
        # every row is first scored on its own, exactly as the single-machine path does
        # (Router.select); complete rows are re-decided by the pool step for k > 1 / Global
        router = Router(names, scorer="consensus", embedder=prepared)  # the engine's scorer
        for i in range(n):
            d = router.select(str(inputs[i]), {c: answers[c][i] for c in names}, update_pool=False)
            out["selected"][i] = d.selected
            out["text"][i] = answers[d.selected][i]
            out["weights"][i] = [d.weights.get(c, np.nan) for c in names]
            out["fallback"][i] = d.fallback
            out["n_neighbors"][i] = d.n_neighbors
        out[_DELTAS] = deltas
        out[_COMPLETE] = complete
        return out


def _partial_sums(batch: dict[str, Any]) -> dict[str, Any]:
    """Reduce step for Smoothie-Global: one (sum, count) row per block."""
    rows = batch[_DELTAS][batch[_COMPLETE]]
    return {"sum": rows.sum(axis=0)[None], "count": np.array([rows.shape[0]])}


class _DecideUDF:
    """Second map step: Global weights, or Local weights from the broadcast pool."""

    def __init__(
        self,
        names: list[str],
        n_neighbors: int | None,
        shared: list[Any],
        neighbor_index: Callable[[], NeighborIndex] | None,
        id_column: str,
    ) -> None:
        import ray

        self.names = names
        self.id_column = id_column
        self.k = n_neighbors
        payload = ray.get(shared[0])
        self.global_weights = payload.get("global_weights")
        self.global_count = int(payload.get("count", 0))
        if self.k is not None:
            self.pool_ids = payload["ids"]
            self.pool_inputs = payload["inputs"]
            self.pool_deltas = payload["deltas"]
            # exact by default, as Smoothie.weights_ (test-time selection) searches
            index = neighbor_index() if neighbor_index is not None else ExactNeighbors()
            # the same conversion as Smoothie's state: float32 embeddings -> float64 rows
            index.add(np.asarray(self.pool_inputs, dtype=np.float64))
            self.index = index

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = dict(batch)
        rows = np.flatnonzero(batch[_COMPLETE])
        if rows.size:
            if self.k is None:
                weights = np.tile(self.global_weights, (rows.size, 1))
                used = self.global_count
            else:
                ids = np.asarray(batch[self.id_column][rows], dtype=np.int64)
                weights, used = self._local(batch[_INPUT_EMB][rows], ids)
            weights_col = np.array(out["weights"], copy=True)
            selected = np.array(out["selected"], copy=True)
            text = np.array(out["text"], copy=True)
            n_nb = np.array(out["n_neighbors"], copy=True)
            # an all-None column comes back from Arrow as float NaN: rebuild it as str/None
            # (else NaN reaches the output, and Ray's sort fails to unify string and float)
            fallback = np.array(
                [v if isinstance(v, str) else None for v in out["fallback"]], dtype=object
            )
            for r, w in zip(rows, weights, strict=True):
                best = self.names[int(select_best(w))]
                selected[r] = best
                text[r] = batch[best][r]
                weights_col[r] = w
                n_nb[r] = used
                fallback[r] = None
            out.update(
                selected=selected,
                text=text,
                weights=weights_col,
                n_neighbors=n_nb,
                fallback=fallback,
            )
        for col in (_DELTAS, _INPUT_EMB, _COMPLETE):
            out.pop(col, None)
        return out

    def _local(
        self, inputs: NDArray[np.float32], ids: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], int]:
        """Smoothie-Local weights of pool rows ``ids``, as ``Smoothie(k).fit(...).weights_``."""
        k = min(self.k or 1, len(self.index))
        rows = np.searchsorted(self.pool_ids, ids)  # positions in the pool (id order)
        idx = self.index.search(np.asarray(inputs, dtype=np.float64), k)
        # a sample is its own nearest neighbour (the estimator's rule, by position)
        idx = _with_self_first(idx, rows)
        return weights_from_deltas(neighbor_mean(self.pool_deltas, idx)), k


def _with_self_first(idx: NDArray[np.intp], rows: NDArray[np.intp]) -> NDArray[np.intp]:
    """Row ``q`` of ``idx`` starts with ``rows[q]``: moved to the front if present, else it
    replaces the farthest neighbour (as :class:`~smoothie_core.Smoothie` does)."""
    out = np.array(idx, copy=True)
    for q, (found, me) in enumerate(zip(idx, rows, strict=True)):
        others = found[found != me]
        out[q] = np.concatenate([[me], others[: idx.shape[1] - 1]])
    return out


def _read_paths(paths: Sequence[str | os.PathLike[str]], id_column: str) -> ray.data.Dataset:
    """Read wide JSON Lines files on the driver, numbering rows (file order, line order)."""
    ray = _import_ray()
    rows: list[dict[str, Any]] = []
    for path in paths:
        p = os.fspath(path)
        if not p.endswith(".jsonl"):
            raise ValueError(
                f"file inputs must be JSON Lines (.jsonl), one object per input with the input "
                f"and one key per candidate; got {p!r}. Pass a ray.data.Dataset for other formats."
            )
        with open(p, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{p}:{lineno}: not valid JSON ({err.msg}).") from err
                if not isinstance(row, dict):
                    raise ValueError(
                        f"{p}:{lineno}: expected a JSON object; got {type(row).__name__}."
                    )
                row.setdefault(id_column, len(rows))
                rows.append(row)
    if not rows:
        raise ValueError(f"no rows in {[os.fspath(p) for p in paths]}.")
    return ray.data.from_items(rows)


def select_ray(
    data: ray.data.Dataset | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    candidates: Sequence[str],
    *,
    input_column: str = "input",
    n_neighbors: int | None = 1,
    embedder: EmbedderSpec = None,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 256,
    concurrency: int | None = None,
    num_cpus: float = 1.0,
    neighbor_index: Callable[[], NeighborIndex] | None = None,
    id_column: str = "index",
) -> ray.data.Dataset:
    """Select the best candidate answer for every row of a Ray Dataset (select mode).

    Parameters
    ----------
    data : ray.data.Dataset, path or list of paths
        One row per input: the input text under ``input_column`` and each candidate's
        answer (str, or None if that candidate failed) under a column named after it.
        Paths name JSON Lines files of such rows, read on the driver and numbered.
    candidates : sequence of str
        Candidate column names (>= 3), in the order of the ``weights`` column.
    input_column : str, default="input"
    n_neighbors : int or None, default=1
        ``1``: each row on its own; ``k > 1``: Smoothie-Local over the dataset's complete
        rows (the pool is broadcast to the workers); ``None``: Smoothie-Global (a reduce).
    embedder : str, zero-argument callable or None
        A :func:`~smoothie_core.embedders.load_embedder` spec (default: offline MiniLM;
        ``"hashing:256"``) or a factory called once per worker (must be picklable).
    cache_dir : path, optional
        Wrap the embedder in a :class:`~smoothie_core.embedders.CachedEmbedder` there (a
        shared file system on a cluster).
    batch_size : int, default=256
        Rows per ``map_batches`` batch; all texts of a batch are embedded in one call.
    concurrency : int or None
        Number of embedding workers (Ray actors); None lets Ray decide.
    num_cpus : float, default=1.0
        CPUs reserved per embedding worker.
    id_column : str, default="index"
        A unique integer id per row. It orders the pool (ties between equally near
        inputs go to the lower id, as to the earlier line on one machine) and the
        results. File inputs are numbered in order automatically.
    neighbor_index : callable, optional
        Index factory for Smoothie-Local (default: exact
        :class:`~smoothie_core.neighbors.ExactNeighbors`, as ``Smoothie.weights_``).

    Returns
    -------
    ray.data.Dataset
        The input columns plus ``selected`` (candidate name), ``text`` (its answer),
        ``weights`` (float array in ``candidates`` order; NaN for failed candidates),
        ``fallback`` (str or None) and ``n_neighbors`` (statistics averaged), sorted by
        ``id_column``. The result is materialised (the pool and the Global reduce need
        the statistics first).

    Examples
    --------
    >>> import ray  # doctest: +SKIP
    >>> ray.init(num_cpus=2)  # doctest: +SKIP
    >>> rows = [{"input": "2+2?", "a": "4", "b": "four", "c": "5"}]  # doctest: +SKIP
    >>> out = select_ray(ray.data.from_items(rows), ["a", "b", "c"])  # doctest: +SKIP
    >>> out.take(1)[0]["selected"]  # doctest: +SKIP
    """
    ray = _import_ray()
    names = [str(c) for c in candidates]
    if len(names) < 3:
        raise ValueError(
            f"select_ray needs at least 3 candidates (the triplet estimator compares 3 "
            f"answers); got {names}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must be distinct; got {names}.")
    if n_neighbors is not None and (
        isinstance(n_neighbors, bool) or not isinstance(n_neighbors, int) or n_neighbors < 1
    ):
        raise ValueError(f"`n_neighbors` must be None or a positive int; got {n_neighbors!r}.")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int; got {batch_size}.")
    if isinstance(data, (str, os.PathLike)):
        data = _read_paths([data], id_column)
    elif isinstance(data, Sequence):
        data = _read_paths(list(data), id_column)
    columns = data.columns() or []
    missing = [c for c in [input_column, *names] if c not in columns]
    if missing:
        raise ValueError(
            f"the dataset has no column(s) {missing}; expected {input_column!r} and one column "
            f"per candidate {names}; got columns {columns}."
        )
    if id_column not in columns:
        raise ValueError(
            f"the dataset has no id column {id_column!r}; select_ray needs a unique integer id "
            "per row (it orders the pool and the results, like line numbers on one machine). "
            "Add one (e.g. the row number in your source) or pass id_column=...; file inputs "
            "are numbered automatically."
        )
    clash = [c for c in _OUT_COLUMNS if c in columns]
    if clash:
        raise ValueError(f"the dataset already has output column(s) {clash}; rename them first.")

    def actors(size: int | None) -> dict[str, Any]:
        return {} if size is None else {"compute": ray.data.ActorPoolStrategy(size=size)}

    stats = data.map_batches(
        _StatsUDF,
        fn_constructor_kwargs={
            "names": names,
            "input_column": input_column,
            "embedder": embedder,
            "cache_dir": None if cache_dir is None else os.fspath(cache_dir),
            "n_neighbors": n_neighbors,
        },
        batch_size=batch_size,
        batch_format="numpy",
        num_cpus=num_cpus,
        **actors(concurrency),
    ).materialize()
    payload: dict[str, Any] = {}
    if n_neighbors == 1:
        return stats.drop_columns([_DELTAS, _COMPLETE]).sort(id_column).materialize()
    if n_neighbors is None:  # reduce: one (sum, count) per block
        partial = stats.map_batches(_partial_sums, batch_format="numpy").take_all()
        count = sum(int(p["count"]) for p in partial)
        if count:
            total = np.sum([p["sum"] for p in partial], axis=0)
            payload = {"global_weights": weights_from_deltas(total / count), "count": count}
    else:  # broadcast: the pool of complete rows, in id order
        ids, pool_inputs, pool_deltas = [], [], []
        for b in stats.select_columns([id_column, _COMPLETE, _INPUT_EMB, _DELTAS]).iter_batches(
            batch_format="numpy", batch_size=None
        ):
            keep = np.asarray(b[_COMPLETE], dtype=bool)
            ids.append(np.asarray(b[id_column], dtype=np.int64)[keep])
            pool_inputs.append(b[_INPUT_EMB][keep])
            pool_deltas.append(b[_DELTAS][keep])
        all_ids = np.concatenate(ids)
        if all_ids.size < 2:  # no neighbours to average: every row on its own
            return (
                stats.drop_columns([_DELTAS, _COMPLETE, _INPUT_EMB]).sort(id_column).materialize()
            )
        order = np.argsort(all_ids, kind="stable")
        if np.any(np.diff(all_ids[order]) == 0):
            raise ValueError(f"the id column {id_column!r} must be unique; it has duplicates.")
        payload = {
            "ids": all_ids[order],
            "inputs": np.concatenate(pool_inputs)[order],
            "deltas": np.concatenate(pool_deltas)[order],
        }
    shared = [ray.put(payload)]
    return (
        stats.map_batches(
            _DecideUDF,
            fn_constructor_kwargs={
                "names": names,
                "n_neighbors": n_neighbors,
                "shared": shared,
                "neighbor_index": neighbor_index,
                "id_column": id_column,
            },
            batch_size=batch_size,
            batch_format="numpy",
            **actors(concurrency),
        )
        .sort(id_column)
        .materialize()
    )


def decisions_ray(
    inputs: Sequence[str],
    answers: Mapping[str, Sequence[str | None]],
    *,
    n_neighbors: int | None = 1,
    embedder: EmbedderSpec = None,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 256,
    concurrency: int | None = None,
) -> list[Decision]:
    """:func:`select_ray` over in-memory columns, one :class:`~smoothie_core.Decision` per input.

    The engine behind ``smoothie select --engine ray``. Connects to the Ray cluster
    named by ``RAY_ADDRESS`` (or starts a local one) unless Ray is already initialised.
    ``answers`` maps each candidate name to its answers (None = failed), aligned with
    ``inputs``.
    """
    ray = _import_ray()
    from smoothie_core.router import Decision

    names = list(answers)
    reserved = {"index", "input", *_OUT_COLUMNS}
    if reserved & set(names):
        raise ValueError(
            f"candidate names {sorted(reserved & set(names))} clash with select_ray's columns; "
            "rename those candidates (e.g. with --names)."
        )
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"))
    rows = [
        {"index": i, "input": text, **{n: answers[n][i] for n in names}}
        for i, text in enumerate(inputs)
    ]
    out = select_ray(
        ray.data.from_items(rows),
        names,
        n_neighbors=n_neighbors,
        embedder=embedder,
        cache_dir=cache_dir,
        batch_size=batch_size,
        concurrency=concurrency,
    )
    decisions = []
    for row in out.iter_rows():
        w = np.asarray(row["weights"], dtype=np.float64)
        failed = [n for n, x in zip(names, w, strict=True) if np.isnan(x)]
        # Ray Data turns a block's all-None object column into NaN: None is the only non-str
        fallback = row["fallback"] if isinstance(row["fallback"], str) else None
        decisions.append(
            Decision(
                selected=str(row["selected"]),
                weights={n: float(x) for n, x in zip(names, w, strict=True) if not np.isnan(x)},
                mode="select",
                failed=failed,
                n_neighbors=int(row["n_neighbors"]),
                fallback=fallback,
                errors=dict.fromkeys(failed, "no answer"),
            )
        )
    return decisions
