"""Input checks shared by the estimator and the state: one place for every message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

MIN_CANDIDATES = 3


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def as_float_array(x: Any, name: str) -> NDArray[np.floating[Any]]:
    """Convert ``x`` to a floating array (float arrays are not copied) or raise a TypeError."""
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"`{name}` must be an array of numbers; got {_describe(x)}.")
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged nested lists, objects numpy refuses
        raise TypeError(
            f"`{name}` must be an array of numbers; got {_describe(x)} ({err})."
        ) from err
    if arr.dtype.kind not in "fiu":  # timedelta64 subclasses numpy's integers: refuse it
        raise TypeError(
            f"`{name}` must be an array of real numbers; got dtype {arr.dtype}. "
            "Pass embeddings as a numeric numpy array (e.g. numpy.asarray(x, dtype=float))."
        )
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    return arr.astype(np.float64)


#: Embeddings whose largest magnitude lies outside [MIN_SCALE, MAX_SCALE] would overflow
#: or underflow squared distances in float64 (wrong neighbours, NaN or silently uniform
#: weights); they are refused with a message asking to normalise them.
MIN_SCALE, MAX_SCALE = 1e-100, 1e100


def check_scale(arr: NDArray[np.floating[Any]], name: str) -> None:
    """Refuse embeddings whose squared distances would overflow or underflow float64."""
    if arr.size == 0:
        return
    top = float(np.max(np.abs(arr)))
    if not np.isfinite(top):
        return  # reported by check_finite
    if top > MAX_SCALE or 0.0 < top < MIN_SCALE:
        raise ValueError(
            f"`{name}` has entries of magnitude up to {top:.3g}; squared distances between "
            f"such vectors {'overflow' if top > MAX_SCALE else 'underflow'} float64. Normalise "
            f"the embeddings (e.g. to unit length); magnitudes in [{MIN_SCALE:g}, {MAX_SCALE:g}] "
            "are accepted."
        )


def check_finite(arr: NDArray[np.floating[Any]], name: str) -> None:
    """Raise a ValueError that locates the first NaN/inf entry of ``arr``."""
    # O(1) extra memory on the happy path. The sum is in the array's own dtype (no
    # conversion pass); if it overflows, the exact check below decides.
    if np.isfinite(np.sum(arr)):
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"`{name}` must be finite; got {int(bad.sum())} NaN/inf value(s), the first at index "
            f"{where}. Drop or re-embed those samples before fitting."
        )


def check_output_embeddings(
    x: Any, name: str = "output_embeddings", *, finite: bool = True
) -> NDArray[np.floating[Any]]:
    """Validate ``(n_samples, n_candidates, dim)`` output embeddings.

    ``finite=False`` skips the NaN/inf check (for callers that detect non-finite values
    from their result and then call :func:`check_finite` for the message).
    """
    arr = as_float_array(x, name)
    if arr.ndim != 3:
        raise ValueError(
            f"`{name}` must have shape (n_samples, n_candidates, dim); got shape {arr.shape}. "
            "Stack per-candidate embeddings with numpy.stack(..., axis=1)."
        )
    n, m, d = arr.shape
    if n == 0:
        raise ValueError(f"`{name}` must hold at least one sample; got shape {arr.shape}.")
    if m < MIN_CANDIDATES:
        raise ValueError(
            f"Smoothie needs at least {MIN_CANDIDATES} candidates (the triplet estimator is "
            f"undefined for fewer); got n_candidates={m} in `{name}` of shape {arr.shape}."
        )
    if d == 0:
        raise ValueError(f"`{name}` must have dim >= 1; got shape {arr.shape}.")
    if finite:
        check_finite(arr, name)
        check_scale(arr, name)
    return arr


def check_input_embeddings(
    x: Any, name: str = "input_embeddings", n_samples: int | None = None, dim: int | None = None
) -> NDArray[np.floating[Any]]:
    """Validate ``(n_samples, dim_in)`` input embeddings, optionally against a length and dim."""
    arr = as_float_array(x, name)
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must have shape (n_samples, dim_in); got shape {arr.shape}. "
            "Reshape a single embedding with x.reshape(1, -1)."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"`{name}` must hold at least one sample; got shape {arr.shape}.")
    if arr.shape[1] == 0:
        raise ValueError(f"`{name}` must have dim_in >= 1; got shape {arr.shape}.")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(
            f"`{name}` must have one row per sample: expected {n_samples} rows to match "
            f"output_embeddings, got {arr.shape[0]}."
        )
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(
            f"`{name}` must have dim_in={dim} like the input embeddings seen in fit; got shape "
            f"{arr.shape}. Embed inputs with the same embedder as at fit time."
        )
    check_finite(arr, name)
    check_scale(arr, name)
    return arr


def check_n_neighbors(k: Any) -> int | None:
    """Validate the ``n_neighbors`` parameter (None = Smoothie-Global)."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(
            f"`n_neighbors` must be None (Smoothie-Global) or a positive int (Smoothie-Local); "
            f"got {k!r} of type {type(k).__name__}."
        )
    if k < 1:
        raise ValueError(
            f"`n_neighbors` must be None (Smoothie-Global) or a positive int (Smoothie-Local); "
            f"got {k}."
        )
    return int(k)


def check_n_neighbors_option(k: Any) -> int | str | None:
    """Validate a front door's ``n_neighbors``: None, a positive int, or ``"auto"``.

    Examples
    --------
    >>> check_n_neighbors_option("auto"), check_n_neighbors_option(5), check_n_neighbors_option(None)
    ('auto', 5, None)
    """
    if isinstance(k, str):
        if k == "auto":
            return "auto"
        raise ValueError(
            f"`n_neighbors` must be None (Smoothie-Global), a positive int (Smoothie-Local) or "
            f"'auto'; got {k!r}."
        )
    return check_n_neighbors(k)


def check_candidate_names(
    names: Sequence[str] | None, n_candidates: int, *, what: str = "candidate_names"
) -> list[str]:
    """Validate candidate names (default: ``"0"``, ``"1"``, ...); ``what`` names the argument."""
    if names is None:
        return [str(i) for i in range(n_candidates)]
    if isinstance(names, str):
        raise TypeError(f"`{what}` must be a sequence of str; got the str {names!r}.")
    out = list(names)
    if not all(isinstance(x, str) for x in out):
        raise TypeError(
            f"`{what}` must be a sequence of str; got types {[type(x).__name__ for x in out]}."
        )
    if len(out) != n_candidates:
        raise ValueError(
            f"`{what}` must have one name per candidate: expected {n_candidates}, "
            f"got {len(out)} ({out})."
        )
    dup = sorted({x for x in out if out.count(x) > 1})
    if dup:
        raise ValueError(f"`{what}` must be unique; got duplicates {dup}.")
    if any(not x for x in out):
        raise ValueError(f"`{what}` must be non-empty strings; got an empty name.")
    return out
