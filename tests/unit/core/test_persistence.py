"""save/load: no pickle, atomic, validated, bitwise round trip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from smoothie_core import Smoothie, StateFileError, _io


@pytest.fixture
def fitted() -> Smoothie:
    rng = np.random.default_rng(0)
    lam, x = rng.normal(size=(30, 4, 6)), rng.normal(size=(30, 5))
    return Smoothie(n_neighbors=4, max_samples=100).fit(
        lam, x, candidate_names=["a", "b", "c", "d"]
    )


def test_round_trip_is_bitwise(fitted: Smoothie, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "state.npz", metadata={"note": "hi"})
    loaded = Smoothie.load(path)
    q = np.random.default_rng(1).normal(size=(7, 5))
    assert np.array_equal(loaded.predict_weights(q), fitted.predict_weights(q))
    assert np.array_equal(loaded.weights_, fitted.weights_)
    assert np.array_equal(loaded.global_weights_, fitted.global_weights_)
    assert loaded.candidate_names_ == ["a", "b", "c", "d"]
    assert (loaded.n_neighbors, loaded.max_samples) == (4, 100)
    assert loaded.metadata_ == {"note": "hi"}


def test_global_without_inputs_round_trips(tmp_path: Path) -> None:
    sm = Smoothie().fit(np.random.default_rng(2).normal(size=(5, 3, 2)))
    loaded = Smoothie.load(sm.save(tmp_path / "g.npz"))
    assert loaded.input_embeddings_ is None
    assert np.array_equal(loaded.global_weights_, sm.global_weights_)


def test_file_has_no_pickle_and_a_json_header(fitted: Smoothie, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["__header__"].tobytes())
        assert all(npz[k].dtype != object for k in npz.files)
    assert header["format"] == "smoothie-router/Smoothie"
    assert header["format_version"] == 2
    assert header["statistic"] == {"name": "triplet"}
    assert "library_version" in header


def test_truncated_file_rejected(fitted: Smoothie, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "s.npz")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(StateFileError, match="not a readable smoothie state file"):
        Smoothie.load(path)


def test_too_new_file_rejected(fitted: Smoothie, tmp_path: Path) -> None:
    path = tmp_path / "new.npz"
    _io.save_arrays(
        path,
        {"format": "smoothie-router/Smoothie", "format_version": 99},
        {"sample_deltas": np.zeros((2, 3))},
    )
    with pytest.raises(
        StateFileError, match="format_version 99, newer than this smoothie-router supports"
    ):
        Smoothie.load(path)


def test_tampered_arrays_rejected(fitted: Smoothie, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["input_embeddings"] = arrays["input_embeddings"][:5]
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(StateFileError, match="not a valid Smoothie state: input_embeddings"):
        Smoothie.load(path)


def test_tampered_header_rejected(fitted: Smoothie, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["__header__"].tobytes())
    header["candidate_names"] = ["a", "a", "b", "c"]
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(StateFileError, match="duplicates"):
        Smoothie.load(path)


def test_pickled_object_array_rejected(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    with open(path, "wb") as fh:
        np.savez(
            fh, __header__=np.frombuffer(b"{}", dtype=np.uint8), sample_deltas=np.array([object()])
        )
    with pytest.raises(StateFileError, match="not a readable smoothie state file"):
        Smoothie.load(path)


def test_wrong_format_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    with open(path, "wb") as fh:
        np.savez(fh, a=np.zeros(2))
    with pytest.raises(StateFileError, match="no smoothie header"):
        Smoothie.load(path)
    with pytest.raises(FileNotFoundError, match="No saved state"):
        Smoothie.load(tmp_path / "missing.npz")
    not_zip = tmp_path / "text.npz"
    not_zip.write_text("hello")
    with pytest.raises(StateFileError):
        Smoothie.load(not_zip)


def test_failed_save_keeps_previous_file(fitted: Smoothie, tmp_path: Path, monkeypatch) -> None:
    path = fitted.save(tmp_path / "s.npz")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temp file left behind


def test_save_to_directory_is_a_clear_error(fitted: Smoothie, tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        fitted.save(tmp_path)


def test_save_never_writes_a_pickle(fitted: Smoothie, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "s.npz")
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            assert b"\x80\x04" not in zf.read(name)[:2]  # no pickle protocol header
