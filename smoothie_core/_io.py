"""Every file smoothie_core writes, and the state files it reads back.

Writing: :func:`open_output` (a context manager for streamed output) and
:func:`write_atomic` (bytes, text or a writer callback) apply one set of rules:

* A regular file is written to a unique temporary file in the target's directory
  (:func:`tempfile.mkstemp`), flushed, ``fsync``-ed, then renamed over the target with
  :func:`os.replace`: readers see the old file or the new one, never a mix. Two writers
  racing for one path each leave a complete file (the last rename wins).
* The written file has mode ``mode`` (default ``0o600``: owner read/write only), also
  when it replaces a file with other permissions; the umask does not widen it.
* Saving through a symbolic link replaces the link itself with a regular file (the
  link's target is left untouched): renaming onto the link is the only way to stay
  atomic, and a link never redirects a write to a file the user did not name.
* Targets that are not regular files (a FIFO, a terminal, a character device such as
  ``/dev/null``) and paths under ``/dev`` or ``/proc`` (``/dev/stdout``,
  ``/dev/fd/3``, ``/proc/self/fd/1``, even when they lead to a regular file) are
  written in place as a stream, never replaced or created. ``-`` means standard output
  when ``dash_means_stdout=True`` (the command line's convention).
* A target that is a directory raises :class:`IsADirectoryError`; a target that is one
  of ``inputs`` (same path, a link to it, or a hard link) raises :class:`ValueError`
  before anything is written.
* If writing fails or is interrupted (an exception, ``KeyboardInterrupt`` from SIGINT,
  or SIGTERM, which raises ``SystemExit(143)`` while a write is in progress in the main
  thread unless the program installed its own SIGTERM handler), the temporary file is
  removed and the previous target, if any, is left untouched.

Reading: :func:`load_arrays` reads a state file written by :func:`save_arrays` (an
``.npz`` of ``.npy`` members plus a JSON header, never pickle) and raises
:class:`~smoothie_core.exceptions.StateFileError` naming the file and the problem for
any malformed file. Sizes are checked from the zip directory and the ``.npy`` headers
before anything is allocated, within these documented limits:

* at most :data:`MAX_MEMBERS` members, each an uncompressed (stored) ``.npy`` array of
  a plain numeric dtype (bool, int, uint, float; no objects, no records);
* each member's size in the zip directory equals its ``.npy`` header plus exactly the
  bytes its declared shape and dtype need, and the members fit in the file without
  overlapping, so loading allocates at most the file's own size (no zip bomb);
* the JSON header is at most :data:`MAX_HEADER_BYTES` bytes and nested at most as deep
  as Python's recursion limit allows.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import stat
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import NDArray

from smoothie_core._version import __version__
from smoothie_core.exceptions import StateFileError

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_MEMBERS",
    "STATE_FILE_MODE",
    "load_arrays",
    "open_output",
    "resolve_output",
    "save_arrays",
    "write_atomic",
]

_HEADER_KEY = "__header__"

#: Permissions of every file smoothie_core writes (owner read/write only).
STATE_FILE_MODE = 0o600
#: Most members a state file may hold (smoothie_core writes at most three).
MAX_MEMBERS = 16
#: Largest JSON header accepted in a state file (bytes).
MAX_HEADER_BYTES = 64 * 2**20

_STREAM_ROOTS = ("dev", "proc")
_CHUNK = 16 * 2**20


# ---------------------------------------------------------------------------- writing
@dataclass(frozen=True)
class OutputTarget:
    """Where :func:`open_output` writes: ``kind`` is ``"stdout"``, ``"stream"`` or ``"file"``."""

    kind: Literal["stdout", "stream", "file"]
    path: Path | None


def _same_file(out: Path, other: str | os.PathLike[str]) -> bool:
    other_s = os.fspath(other)
    if os.path.abspath(out) == os.path.abspath(other_s):
        return True
    if os.path.realpath(out) == os.path.realpath(other_s):
        return True
    try:
        return os.path.samefile(out, other_s)
    except OSError:  # one of them does not exist (or cannot be inspected)
        return False


def resolve_output(
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    dash_means_stdout: bool = False,
) -> OutputTarget:
    """Check an output path against the rules of this module, before any work is done.

    Raises :class:`IsADirectoryError` for a directory, :class:`FileNotFoundError` for a
    missing path under ``/dev`` or ``/proc`` (never created), and :class:`ValueError`
    when the path is one of ``inputs``.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> resolve_output(folder + "/out.jsonl").kind
    'file'
    >>> resolve_output("-", dash_means_stdout=True).kind
    'stdout'
    >>> resolve_output("/dev/null").kind
    'stream'
    """
    raw = os.fspath(path)
    if raw == "-" and dash_means_stdout:
        return OutputTarget("stdout", None)
    if not raw:
        raise ValueError("The output path is empty; give a file path.")
    target = Path(raw)
    try:
        st: os.stat_result | None = os.stat(target)  # follows links
    except FileNotFoundError:
        st = None  # absent, or a dangling link (replaced like any link)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(
            f"Cannot write to {raw!r}: it is a directory; give a file path inside it."
        )
    for other in inputs:
        if _same_file(target, other):
            raise ValueError(
                f"Refusing to write to {raw!r}: it is the input file {os.fspath(other)!r}, "
                "which would be overwritten. Choose another output path."
            )
    if st is not None and not stat.S_ISREG(st.st_mode):
        return OutputTarget("stream", target)
    if Path(os.path.abspath(raw)).parts[1:2] in [(root,) for root in _STREAM_ROOTS]:
        if st is None:
            raise FileNotFoundError(
                f"{raw!r} does not exist; paths under /dev and /proc are written in place, "
                "never created."
            )
        return OutputTarget("stream", target)
    return OutputTarget("file", target)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While active (main thread only), SIGTERM raises ``SystemExit(143)`` instead of
    killing the process, so ``finally`` clauses remove temporary files. A handler the
    program installed itself (or ``SIG_IGN``) is left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back (main thread, POSIX) while a temporary file is created
    and recorded, so an interruption cannot leave one nobody knows about."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = mask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _stdout(binary: bool, encoding: str) -> Iterator[IO[Any]]:
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if binary:
        if buffer is None:
            raise ValueError("Standard output does not accept bytes here; give a file path.")
        yield buffer
        buffer.flush()
        return
    if buffer is None:  # replaced by a text-only stream (e.g. io.StringIO)
        yield sys.stdout
        sys.stdout.flush()
        return
    wrapper = io.TextIOWrapper(buffer, encoding=encoding, newline="", write_through=True)
    try:
        yield wrapper
        wrapper.flush()
    finally:
        wrapper.detach()  # never close the process's stdout


@contextlib.contextmanager
def open_output(
    path: str | os.PathLike[str],
    *,
    binary: bool = False,
    encoding: str = "utf-8",
    inputs: Iterable[str | os.PathLike[str]] = (),
    mode: int = STATE_FILE_MODE,
    dash_means_stdout: bool = False,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing under the rules of this module; yields a file object.

    A regular file appears (atomically, with permissions ``mode``) only when the
    ``with`` block ends without an exception; otherwise nothing changes on disk.

    Parameters
    ----------
    path : path-like or ``"-"``
    binary : bool, default=False
        Yield a binary file object instead of a text one (``encoding``, ``"\\n"`` kept).
    inputs : iterable of path-like
        Files that must not be overwritten (e.g. the files a command reads).
    mode : int, default=0o600
        Permissions of the written file.
    dash_means_stdout : bool, default=False
        Treat ``"-"`` as standard output (a command-line convention).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "lines.jsonl"
    >>> with open_output(out) as fh:
    ...     _ = fh.write('{"a": 1}\\n')
    >>> out.read_text(), oct(out.stat().st_mode & 0o777)
    ('{"a": 1}\\n', '0o600')
    """
    target = resolve_output(path, inputs=inputs, dash_means_stdout=dash_means_stdout)
    if target.kind == "stdout":
        with _stdout(binary, encoding) as fh:
            yield fh
        return
    assert target.path is not None
    if target.kind == "stream":
        yield from _stream(target.path, binary, encoding)
        return
    folder = target.path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp: str | None = None
    with _sigterm_raises():
        try:
            with _signals_blocked():
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{target.path.name}.", suffix=".tmp", dir=folder
                )
                out: IO[Any] = (
                    os.fdopen(fd, "wb")
                    if binary
                    else os.fdopen(fd, "w", encoding=encoding, newline="")
                )
            with out:
                if hasattr(os, "fchmod"):
                    os.fchmod(out.fileno(), mode)  # mkstemp's 0600 unless asked otherwise
                yield out
                out.flush()
                os.fsync(out.fileno())
            if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
                os.chmod(tmp, mode)
            os.replace(tmp, target.path)
            tmp = None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
    _fsync_dir(folder)


def _stream(target: Path, binary: bool, encoding: str) -> Iterator[IO[Any]]:
    """Write in place to a non-regular file, or a /dev or /proc path."""
    st = os.stat(target)
    for name in ("stdout", "stderr"):
        std = getattr(sys, name)
        try:
            same = os.path.samestat(st, os.fstat(std.fileno()))
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            same = False
        if same:  # /dev/stdout, /proc/self/fd/1, ...: share the process's own stream
            with _stdout_like(std, binary, encoding) as fh:
                yield fh
            return
    # a regular file reached through /dev or /proc (e.g. /dev/fd/3): append, never truncate
    flags = "ab" if stat.S_ISREG(st.st_mode) else "wb"
    with open(target, flags) as raw:
        if binary:
            yield raw
        else:
            text = io.TextIOWrapper(raw, encoding=encoding, newline="")
            try:
                yield text
                text.flush()
            finally:
                text.detach()


@contextlib.contextmanager
def _stdout_like(std: Any, binary: bool, encoding: str) -> Iterator[IO[Any]]:
    if std is sys.stdout:
        with _stdout(binary, encoding) as fh:
            yield fh
        return
    std.flush()
    buffer = std.buffer
    if binary:
        yield buffer
        buffer.flush()
        return
    wrapper = io.TextIOWrapper(buffer, encoding=encoding, newline="", write_through=True)
    try:
        yield wrapper
        wrapper.flush()
    finally:
        wrapper.detach()


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | str | Callable[[IO[bytes]], object],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    mode: int = STATE_FILE_MODE,
    encoding: str = "utf-8",
    dash_means_stdout: bool = False,
) -> Path:
    """Write ``data`` to ``path`` under the rules of this module; returns ``Path(path)``.

    ``data`` is bytes, text (encoded with ``encoding``), or a callable that writes to
    the binary file object it is given (e.g. ``lambda fh: fig.savefig(fh, format="png")``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "result.json"
    >>> write_atomic(out, '{"ok": true}\\n').read_text()
    '{"ok": true}\\n'
    >>> _ = write_atomic(out, lambda fh: fh.write(b"replaced"))
    >>> out.read_bytes()
    b'replaced'
    """
    with open_output(
        path, binary=True, inputs=inputs, mode=mode, dash_means_stdout=dash_means_stdout
    ) as fh:
        if callable(data):
            data(fh)
        elif isinstance(data, str):
            fh.write(data.encode(encoding))
        else:
            fh.write(data)
    return Path(path)


def save_arrays(
    path: str | os.PathLike[str], header: dict[str, Any], arrays: dict[str, NDArray[Any]]
) -> Path:
    """Write ``arrays`` and a JSON ``header`` to ``path`` (:func:`write_atomic`'s rules).

    If anything fails, the previous file at ``path`` (if any) is left untouched.
    """
    path = Path(path)
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
    return write_atomic(path, lambda fh: np.savez(fh, **payload))


# ---------------------------------------------------------------------------- reading
class _Malformed(Exception):
    """A problem with the file's content (turned into StateFileError naming the file)."""


def _read_member(member: IO[bytes], info: zipfile.ZipInfo, key: str) -> NDArray[Any]:
    fmt = np.lib.format
    version = fmt.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran, dtype = fmt.read_array_header_2_0(member)
    else:
        raise _Malformed(f"array {key!r} uses .npy format version {version}; expected 1.0 or 2.0")
    dtype = np.dtype(dtype)
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
        raise _Malformed(f"array {key!r} has dtype {dtype}; expected a plain numeric dtype")
    if dtype.kind not in "biuf" or dtype.itemsize == 0:
        raise _Malformed(f"array {key!r} has dtype {dtype}; expected bool, int or float")
    if not isinstance(shape, tuple) or len(shape) > 8:
        raise _Malformed(f"array {key!r} declares the shape {shape!r}")
    if not all(type(n) is int and n >= 0 for n in shape):
        raise _Malformed(f"array {key!r} declares the shape {shape!r}")
    nbytes = math.prod(shape) * dtype.itemsize
    held = info.file_size - member.tell()
    if nbytes != held:
        raise _Malformed(
            f"array {key!r} declares shape {shape} and dtype {dtype} ({nbytes} bytes) but "
            f"the file holds {held} bytes for it"
        )
    buf = bytearray(nbytes)  # bounded: nbytes == held <= the file's size
    view = memoryview(buf)
    pos = 0
    while pos < nbytes:
        got = member.readinto(view[pos : pos + _CHUNK])  # type: ignore[attr-defined]
        if not got:
            raise _Malformed(f"array {key!r} is truncated")
        pos += got
    if member.read(1):  # also makes zipfile check the CRC
        raise _Malformed(f"array {key!r} has trailing bytes")
    arr = np.frombuffer(buf, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    if not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def _read_npz(fh: IO[bytes], size: int) -> dict[str, NDArray[Any]]:
    if size < 22:  # the smallest zip file (an empty end-of-directory record)
        raise _Malformed(f"it is {size} bytes long, too short to be a .npz file")
    with zipfile.ZipFile(fh) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _Malformed(f"it has {len(infos)} members; at most {MAX_MEMBERS} are allowed")
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise _Malformed(f"it has duplicate members {sorted(names)}")
        total = 0
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or "/" in name or "\\" in name:
                raise _Malformed(f"member {name!r} is not a .npy array")
            if info.flag_bits & 0x1:
                raise _Malformed(f"member {name!r} is encrypted")
            if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
                raise _Malformed(
                    f"member {name!r} is compressed (method {info.compress_type}); smoothie "
                    "state files store their arrays uncompressed"
                )
            if info.header_offset + info.compress_size > size:
                raise _Malformed(f"member {name!r} extends past the end of the file")
            if name == f"{_HEADER_KEY}.npy" and info.file_size > MAX_HEADER_BYTES + 4096:
                raise _Malformed(
                    f"its header is {info.file_size} bytes; at most {MAX_HEADER_BYTES} are allowed"
                )
            total += info.compress_size
        if total > size:
            raise _Malformed("its members overlap (their sizes add up to more than the file)")
        arrays: dict[str, NDArray[Any]] = {}
        for info in infos:
            key = info.filename[: -len(".npy")]
            with zf.open(info) as member:
                arrays[key] = _read_member(member, info, key)
    return arrays


def _parse_header(raw: NDArray[Any]) -> Any:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _Malformed(f"its header has dtype {raw.dtype} and shape {raw.shape}")
    try:
        text = raw.tobytes().decode("utf-8")
        return json.loads(text)
    except RecursionError:
        raise _Malformed("its JSON header is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is a ValueError
        raise _Malformed(f"its header is not valid JSON: {err}") from err


def load_arrays(
    path: str | os.PathLike[str], expected_format: str, max_version: int
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """Read a file written by :func:`save_arrays`; check its format name and version.

    Raises :class:`FileNotFoundError` for a missing file, :class:`PermissionError`
    ("permission denied") for an unreadable one, and
    :class:`~smoothie_core.exceptions.StateFileError` naming the file and the problem
    for anything else (see the module docstring for the limits).
    """
    path = Path(path)
    where = repr(str(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"No saved state at {where}.") from None
    except PermissionError as err:
        raise _permission_denied(where, err) from err
    if stat.S_ISDIR(st.st_mode):
        raise StateFileError(f"{where} is a directory, not a smoothie state file.")
    if not stat.S_ISREG(st.st_mode):
        raise StateFileError(f"{where} is not a regular file, so not a smoothie state file.")
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except PermissionError as err:
        raise _permission_denied(where, err) from err
    with fh:
        try:
            arrays = _read_npz(fh, os.fstat(fh.fileno()).st_size)
            if _HEADER_KEY not in arrays:
                raise StateFileError(
                    f"{where} has no smoothie header; was it written by smoothie_core?"
                )
            header = _parse_header(arrays.pop(_HEADER_KEY))
        except StateFileError:
            raise
        except _Malformed as err:
            raise StateFileError(f"{where} is not a readable smoothie state file: {err}.") from None
        except MemoryError:
            raise  # the machine cannot hold a state that passed every size check
        except Exception as err:  # any failure to parse the bytes: a malformed file
            raise StateFileError(
                f"{where} is not a readable smoothie state file (truncated or corrupted?): "
                f"{type(err).__name__}: {err}"
            ) from err
    if not isinstance(header, dict) or header.get("format") != expected_format:
        got = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise StateFileError(f"{where} holds format {got!r}; expected {expected_format!r}.")
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise StateFileError(f"{where} has an invalid format_version {version!r}.")
    if version > max_version:
        raise StateFileError(
            f"{where} has format_version {version}, newer than this smoothie-router "
            f"supports ({max_version}); it was written by version "
            f"{str(header.get('library_version'))[:40]}. Upgrade smoothie-router to load it."
        )
    return header, arrays


def _permission_denied(where: str, err: OSError) -> PermissionError:
    return PermissionError(
        f"Cannot read {where}: permission denied ({err.strerror or err}). Check the file's "
        "permissions or run as a user who may read it."
    )
