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


# --------------------------------------------------------------------------------------
# Malformed files (issue 15, item 8): only StateFileError, naming the file, ever escapes.
# --------------------------------------------------------------------------------------
import io  # noqa: E402
import os  # noqa: E402

from smoothie_core import HashingEmbedder, Router  # noqa: E402


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _header_bytes(header: object) -> bytes:
    return _npy(np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))


@pytest.fixture
def router_state(tmp_path: Path) -> Path:
    router = Router(["a", "b", "c"], embedder=HashingEmbedder(dim=16), n_neighbors=2)
    prompts = [f"question {i}" for i in range(6)]
    answers = [{"a": f"yes {i}", "b": f"yes {i}!", "c": f"no {i}"} for i in range(6)]
    router.calibrate(prompts, answers)
    return router.save(tmp_path / "router.npz")


def _load_cleanly(path: Path) -> None:
    """Loading either succeeds or raises StateFileError naming the file; nothing else."""
    for load in (Smoothie.load, Router.load):
        try:
            load(path)
        except StateFileError as err:
            if str(path) not in str(err):
                raise AssertionError(f"the error does not name the file: {err}") from err


def test_plain_npy_renamed_npz(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    path.write_bytes(_npy(np.zeros((3, 3))))
    with pytest.raises(StateFileError, match=r"plain\.npz.*not a readable smoothie state file"):
        Smoothie.load(path)


def test_member_without_npy_suffix(fitted: Smoothie, tmp_path: Path) -> None:
    members = _members(fitted.save(tmp_path / "s.npz"))
    members["sample_statistics"] = members.pop("sample_statistics.npy")
    path = _zip(tmp_path / "noext.npz", members)
    with pytest.raises(StateFileError, match=r"member 'sample_statistics' is not a \.npy array"):
        Smoothie.load(path)


def test_deeply_nested_json_header(fitted: Smoothie, tmp_path: Path) -> None:
    members = _members(fitted.save(tmp_path / "s.npz"))
    deep = "[" * 100_000 + "]" * 100_000
    members["__header__.npy"] = _npy(np.frombuffer(deep.encode(), dtype=np.uint8))
    path = _zip(tmp_path / "deep.npz", members)
    with pytest.raises(StateFileError, match="nested too deeply"):
        Smoothie.load(path)


def test_huge_declared_shape_is_rejected_before_allocating(
    fitted: Smoothie, tmp_path: Path
) -> None:
    members = _members(fitted.save(tmp_path / "s.npz"))
    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**40, 3)}
    np.lib.format.write_array_header_1_0(buf, header)
    members["sample_statistics.npy"] = buf.getvalue() + np.zeros((2, 3)).tobytes()
    path = _zip(tmp_path / "huge.npz", members)
    with pytest.raises(
        StateFileError, match=r"declares shape \(1099511627776, 3\) .* but the file holds 48 bytes"
    ):
        Smoothie.load(path)


def test_zip_bomb_is_rejected_from_the_zip_directory(fitted: Smoothie, tmp_path: Path) -> None:
    # 33M rows of zeros deflate to well under a megabyte and would expand to ~800 MB
    members = _members(fitted.save(tmp_path / "s.npz"))
    members["sample_statistics.npy"] = _npy(np.zeros((11_000_000, 3)))
    path = _zip(tmp_path / "bomb.npz", members, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(StateFileError, match=r"is compressed .* store their arrays uncompressed"):
        Smoothie.load(path)


def test_overlapping_members_are_rejected(fitted: Smoothie, tmp_path: Path) -> None:
    # six directory entries pointing at one stored member: more data than the file holds
    import struct
    import zlib

    data = _npy(np.zeros((500, 3)))
    crc = zlib.crc32(data)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, len(data), len(data), 9, 0)
    body = local + b"a0000.npy" + data
    central = b""
    for i in range(6):
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, len(data), len(data),
            9, 0, 0, 0, 0, 0, 0,
        ) + f"a{i:04d}.npy".encode()  # fmt: skip
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 6, 6, len(central), len(body), 0)
    bad = tmp_path / "overlap.npz"
    bad.write_bytes(body + central + eocd)
    with zipfile.ZipFile(bad) as zf:  # a zip file as far as zipfile is concerned
        assert len(zf.infolist()) == 6
    with pytest.raises(StateFileError, match=r"overlap\.npz.*members overlap"):
        Smoothie.load(bad)


@pytest.mark.parametrize(
    ("flag_offset", "value", "message"),
    [(8, 0x01, "is encrypted"), (10, 14, r"is compressed \(method 14\)")],
)
def test_altered_zip_flags(
    fitted: Smoothie, tmp_path: Path, flag_offset: int, value: int, message: str
) -> None:
    raw = bytearray(fitted.save(tmp_path / "s.npz").read_bytes())
    pos = raw.index(b"PK\x01\x02")  # first central-directory entry
    if flag_offset == 8:
        raw[pos + flag_offset] |= value
    else:
        raw[pos + flag_offset] = value
    path = tmp_path / "flags.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(StateFileError, match=message):
        Smoothie.load(path)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((30, 4), dtype="<U3"), "has dtype <U3; expected bool, int or float"),
        (np.zeros((30, 4), dtype=complex), "has dtype complex128"),
        (np.zeros(3, dtype=[("a", "<f8")]), "expected a plain numeric dtype"),
        (np.array([object(), object()]), "has dtype object"),
        (np.float64(3.0), r"sample_statistics has dtype float64 and shape \(\)"),
        (np.zeros((30, 4), dtype=np.float32), "sample_statistics has dtype float32"),
        (np.zeros((30, 4), dtype=">f8").astype(">f8"), None),  # big-endian float64: fine
    ],
)
def test_wrong_dtypes_and_shapes(
    fitted: Smoothie, tmp_path: Path, array: np.ndarray, message: str | None
) -> None:
    members = _members(fitted.save(tmp_path / "s.npz"))
    members["sample_statistics.npy"] = _npy(array)
    path = _zip(tmp_path / "dtype.npz", members)
    if message is None:
        assert Smoothie.load(path).sample_statistics_.dtype == np.float64
        return
    with pytest.raises(StateFileError, match=message):
        Smoothie.load(path)


def test_too_many_members(fitted: Smoothie, tmp_path: Path) -> None:
    members = _members(fitted.save(tmp_path / "s.npz"))
    members.update({f"extra{i}.npy": _npy(np.zeros(1)) for i in range(_io.MAX_MEMBERS)})
    path = _zip(tmp_path / "many.npz", members)
    with pytest.raises(StateFileError, match=f"at most {_io.MAX_MEMBERS} are allowed"):
        Smoothie.load(path)


def test_unreadable_file_says_permission_denied(
    fitted: Smoothie, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = fitted.save(tmp_path / "s.npz")
    real_open = open

    def deny(file, *args, **kwargs):  # root ignores chmod, so deny at the open call
        if os.fspath(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(PermissionError, match=r"s\.npz'?: permission denied") as info:
        Smoothie.load(path)
    assert "corrupted" not in str(info.value)
    assert not isinstance(info.value, StateFileError)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_says_permission_denied_for_real(fitted: Smoothie, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "s.npz")
    path.chmod(0)
    with pytest.raises(PermissionError, match="permission denied"):
        Smoothie.load(path)


def test_directory_and_fifo_are_state_file_errors(tmp_path: Path) -> None:
    with pytest.raises(StateFileError, match="is a directory"):
        Smoothie.load(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.npz"
        os.mkfifo(fifo)
        with pytest.raises(StateFileError, match="not a regular file"):
            Smoothie.load(fifo)  # and does not block waiting for a writer


@pytest.mark.parametrize(
    "value", [None, -1, 0, 2**70, 1.5, True, "x", [], {}, [1, [2]], "a" * 10_000]
)
def test_every_header_field_tampered(router_state: Path, tmp_path: Path, value: object) -> None:
    members = _members(router_state)
    header = json.loads(np.load(io.BytesIO(members["__header__.npy"])).tobytes())
    fields = [k for k in header if k != "metadata"] + [f"metadata.{k}" for k in header["metadata"]]
    for field in fields:
        tampered = json.loads(json.dumps(header))
        if field.startswith("metadata."):
            tampered["metadata"][field.split(".", 1)[1]] = value
        else:
            tampered[field] = value
        path = _zip(tmp_path / "t.npz", {**members, "__header__.npy": _header_bytes(tampered)})
        _load_cleanly(path)
    for top in ([1, 2], "text", 3, None):
        path = _zip(tmp_path / "t.npz", {**members, "__header__.npy": _header_bytes(top)})
        with pytest.raises(StateFileError, match="holds format"):
            Smoothie.load(path)


def test_fuzz_truncations(router_state: Path, tmp_path: Path) -> None:
    raw = router_state.read_bytes()
    path = tmp_path / "cut.npz"
    for n in range(0, len(raw), 7):
        path.write_bytes(raw[:n])
        with pytest.raises(StateFileError, match=r"cut\.npz"):
            Smoothie.load(path)


def test_fuzz_byte_flips(router_state: Path, tmp_path: Path) -> None:
    raw = router_state.read_bytes()
    rng = np.random.default_rng(15)
    path = tmp_path / "flip.npz"
    for _ in range(400):
        data = bytearray(raw)
        for pos in rng.integers(0, len(raw), size=int(rng.integers(1, 5))):
            data[pos] = int(rng.integers(0, 256))
        path.write_bytes(bytes(data))
        _load_cleanly(path)


def test_fuzz_crafted_members(router_state: Path, tmp_path: Path) -> None:
    members = _members(router_state)
    rng = np.random.default_rng(8)
    arrays = [
        np.zeros((0, 3)), np.zeros((6, 2)), np.full((6, 3), np.nan), np.ones((6, 3), dtype=np.int64),
        np.zeros((6, 3, 1)), np.zeros((7, 3)), np.zeros(6), np.ones((6, 16), dtype=np.float16),
        np.zeros((6, 3), dtype=bool), rng.normal(size=(6, 3)),
    ]  # fmt: skip
    path = tmp_path / "crafted.npz"
    for name in (
        "sample_statistics.npy", "sample_deltas.npy", "input_embeddings.npy", "__header__.npy",
        "x.npy",
    ):  # fmt: skip
        for arr in arrays:
            _zip(path, {**members, name: _npy(arr)})
            _load_cleanly(path)
        short = {k: v for k, v in members.items() if k != name}
        _zip(path, short)
        _load_cleanly(path)
    # a member whose .npy header lies about its own length
    for cut in (6, 8, 10, 30, 60):
        _zip(path, {**members, "sample_statistics.npy": members["sample_statistics.npy"][:cut]})
        _load_cleanly(path)
