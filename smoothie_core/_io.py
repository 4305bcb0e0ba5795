"""Pickle-free persistence: one ``.npz`` file with a JSON header, written atomically."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from smoothie_core._version import __version__
from smoothie_core.exceptions import StateFileError

_HEADER_KEY = "__header__"


def save_arrays(
    path: str | os.PathLike[str], header: dict[str, Any], arrays: dict[str, NDArray[Any]]
) -> Path:
    """Write ``arrays`` and a JSON ``header`` to ``path`` atomically (temp file + rename).

    If anything fails, the previous file at ``path`` (if any) is left untouched.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"Cannot save to {str(path)!r}: it is a directory; give a file path."
        )
    header = {**header, "library_version": __version__}
    payload: dict[str, Any] = {
        _HEADER_KEY: np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    }
    for key, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(
                f"array {key!r} has dtype object, which cannot be saved without pickle."
            )
        payload[key] = arr
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_arrays(
    path: str | os.PathLike[str], expected_format: str, max_version: int
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """Read a file written by :func:`save_arrays`; check its format name and version."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved state at {str(path)!r}.")
    try:
        raw = path.read_bytes()
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as err:
        raise StateFileError(
            f"{str(path)!r} is not a readable smoothie state file (truncated or corrupted?): {err}"
        ) from err
    if _HEADER_KEY not in arrays:
        raise StateFileError(
            f"{str(path)!r} has no smoothie header; was it written by smoothie_core?"
        )
    try:
        header = json.loads(arrays.pop(_HEADER_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StateFileError(f"{str(path)!r} has a corrupted header: {err}") from err
    if not isinstance(header, dict) or header.get("format") != expected_format:
        got = header.get("format") if isinstance(header, dict) else header
        raise StateFileError(f"{str(path)!r} holds format {got!r}; expected {expected_format!r}.")
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise StateFileError(f"{str(path)!r} has an invalid format_version {version!r}.")
    if version > max_version:
        raise StateFileError(
            f"{str(path)!r} has format_version {version}, newer than this smoothie-router "
            f"supports ({max_version}); it was written by version {header.get('library_version')}. "
            "Upgrade smoothie-router to load it."
        )
    return header, arrays
