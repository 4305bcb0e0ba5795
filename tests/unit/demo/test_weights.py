"""The demo's weight locator: joining parts, pinned sha256, sidecar, clear errors (small fake files)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from smoothie_demo import weights
from smoothie_demo.weights import (
    LOCAL_MODELS,
    LocalModelSpec,
    WeightFileError,
    WeightPart,
    find_installed_part,
    local_model,
    locate_weights,
)

ROOT = Path(__file__).resolve().parents[3]
CHUNKS = [b"GGUF" + bytes(range(60)), bytes(range(200, 256)) * 3, b"tail-of-the-model"]


def _spec(parts: list[bytes], *, sha: str | None = None, size: int | None = None) -> LocalModelSpec:
    blob = b"".join(parts)
    return LocalModelSpec(
        name="fake",
        title="Fake model",
        filename="fake.gguf",
        sha256=sha or hashlib.sha256(blob).hexdigest(),
        size=len(blob) if size is None else size,
        parts=tuple(
            WeightPart(f"fake-part{i}", f"fake_part{i}/data/part{i:02d}.bin")
            for i in range(1, len(parts) + 1)
        ),
        packages=tuple(f"fake-part{i}==1.0" for i in range(1, len(parts) + 1)),
        license="Apache-2.0",
        provenance="test",
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A fake site-packages holding the parts."""
    root = tmp_path / "site"
    for i, chunk in enumerate(CHUNKS, 1):
        path = root / f"fake_part{i}/data/part{i:02d}.bin"
        path.parent.mkdir(parents=True)
        path.write_bytes(chunk)
    return root


def _finder(root: Path):
    return lambda part: root / part.path


def test_joins_parts_in_order_and_verifies(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = locate_weights(_spec(CHUNKS), cache_dir=cache, find=_finder(site))
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert (cache / "fake.gguf.sha256.json").is_file()
    assert not list(cache.glob("*.partial"))


def test_second_call_trusts_the_sidecar(site: Path, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    spec = _spec(CHUNKS)
    locate_weights(spec, cache_dir=cache, find=_finder(site))

    def no_hashing(path: object) -> str:
        raise AssertionError("hashed again despite an up-to-date sidecar")

    monkeypatch.setattr(weights, "sha256_file", no_hashing)
    assert locate_weights(spec, cache_dir=cache, find=_finder(site)).read_bytes() == b"".join(
        CHUNKS
    )


def test_a_tampered_cached_file_is_rebuilt(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    spec = _spec(CHUNKS)
    path = locate_weights(spec, cache_dir=cache, find=_finder(site))
    path.write_bytes(b"x" * spec.size)  # same size, new mtime: the sidecar no longer matches
    assert locate_weights(spec, cache_dir=cache, find=_finder(site)).read_bytes() == b"".join(
        CHUNKS
    )


def test_sha256_mismatch_is_a_clear_error_and_leaves_nothing(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    spec = _spec(CHUNKS, sha="0" * 64)
    with pytest.raises(
        WeightFileError,
        match=r"does not match the pinned file: expected sha256 0{64}, got sha256 [0-9a-f]{64}.*reinstall",
    ):
        locate_weights(spec, cache_dir=cache, find=_finder(site))
    assert not (cache / "fake.gguf").exists()
    assert not list(cache.glob("*partial*"))


def test_size_mismatch_names_both_sizes(site: Path, tmp_path: Path) -> None:
    spec = _spec(CHUNKS, size=10)
    total = len(b"".join(CHUNKS))
    with pytest.raises(WeightFileError, match=rf"expected 10 bytes, got {total} bytes"):
        locate_weights(spec, cache_dir=tmp_path / "cache", find=_finder(site))


def test_single_part_is_used_in_place_and_checked(site: Path, tmp_path: Path) -> None:
    spec = _spec(CHUNKS[:1])
    path = locate_weights(spec, cache_dir=tmp_path / "cache", find=_finder(site))
    assert path == site / "fake_part1/data/part01.bin"
    assert not (tmp_path / "cache" / "fake.gguf").exists()
    path.write_bytes(CHUNKS[0][::-1])  # corrupted after the first check
    with pytest.raises(WeightFileError, match="The weight file for fake"):
        locate_weights(spec, cache_dir=tmp_path / "cache", find=_finder(site))


def test_missing_part_says_what_to_install(site: Path, tmp_path: Path) -> None:
    (site / "fake_part2/data/part02.bin").unlink()
    with pytest.raises(WeightFileError, match=r"not found.*part02\.bin.*demo"):
        locate_weights(_spec(CHUNKS), cache_dir=tmp_path / "cache", find=_finder(site))


def test_missing_package_is_named() -> None:
    with pytest.raises(
        WeightFileError, match=r"'no-such-package-smoothie' .* is not installed.*make demo"
    ):
        find_installed_part(WeightPart("no-such-package-smoothie", "x/y.bin"))


def test_pool_is_pinned_consistently_with_the_models_extra() -> None:
    extra = tomllib.loads((ROOT / "examples" / "demo" / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["models"]
    assert "llama-cpp-python==0.3.36" in extra
    for spec in LOCAL_MODELS:
        assert set(spec.packages) <= set(extra), spec.name
        assert len(spec.packages) == len(spec.parts)
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
        assert [p.package for p in spec.parts] == [r.split("==")[0] for r in spec.packages]
    assert [s.name for s in LOCAL_MODELS] == ["smollm2-135m", "qwen-0.5b", "qwen-1.5b"]
    assert len(local_model("qwen-1.5b").parts) == 22
    with pytest.raises(ValueError, match="Unknown local model 'gpt'"):
        local_model("gpt")
