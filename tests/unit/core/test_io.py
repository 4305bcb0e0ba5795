"""smoothie_core._io: the rules every written file follows (issue 15, item 2)."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from smoothie_core import Smoothie, _io

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file semantics")


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.fixture
def fitted() -> Smoothie:
    rng = np.random.default_rng(0)
    return Smoothie().fit(rng.normal(size=(8, 3, 4)))


def test_writes_atomically_with_mode_0600(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "out.bin"
    assert _io.write_atomic(out, b"hello") == out
    assert out.read_bytes() == b"hello"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert _leftovers(out.parent, {"out.bin"}) == []


@posix_only
def test_replacing_a_0644_file_leaves_0600(fitted: Smoothie, tmp_path: Path) -> None:
    path = tmp_path / "state.npz"
    path.write_bytes(b"old")
    path.chmod(0o644)
    old_umask = os.umask(0)  # a permissive umask must not widen the mode either
    try:
        fitted.save(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Smoothie.load(path)


@posix_only
def test_saving_through_a_symlink_replaces_the_link(fitted: Smoothie, tmp_path: Path) -> None:
    target = tmp_path / "real.npz"
    target.write_bytes(b"not touched")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    fitted.save(link)
    assert not link.is_symlink() and link.is_file()
    assert target.read_bytes() == b"not touched"
    Smoothie.load(link)
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "nowhere" / "x.npz")
    fitted.save(dangling)
    assert not dangling.is_symlink() and not (tmp_path / "nowhere").exists()


def test_directory_target_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        _io.write_atomic(tmp_path, b"x")
    assert _leftovers(tmp_path, set()) == []
    assert not (tmp_path.parent / f"{tmp_path.name}.tmp").exists()


def test_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("keep me\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    hard = tmp_path / "hard.jsonl"
    os.link(src, hard)
    for out in (src, tmp_path / "." / "in.jsonl", link, hard):
        with pytest.raises(ValueError, match=r"Refusing to write .* it is the input file"):
            _io.write_atomic(out, b"clobbered", inputs=[src])
    assert src.read_text() == "keep me\n"
    assert _leftovers(tmp_path, {"in.jsonl", "link.jsonl", "hard.jsonl"}) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("previous")

    def boom(fh) -> None:
        fh.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        _io.write_atomic(out, boom)
    assert out.read_text() == "previous"
    assert _leftovers(tmp_path, {"out.txt"}) == []


def test_sigint_during_the_write_leaves_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("previous")

    def interrupted(fh) -> None:
        fh.write(b"partial")
        os.kill(os.getpid(), signal.SIGINT)
        fh.write(b"never")  # pragma: no cover - the signal raises first

    with pytest.raises(KeyboardInterrupt):
        _io.write_atomic(out, interrupted)
    assert out.read_text() == "previous"
    assert _leftovers(tmp_path, {"out.txt"}) == []


_SIGTERM_SCRIPT = """
import os, signal, sys
from smoothie_core import _io

def terminated(fh):
    fh.write(b"partial")
    os.kill(os.getpid(), signal.SIGTERM)
    fh.write(b"never")

_io.write_atomic(sys.argv[1], b"complete")
assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored
_io.write_atomic(sys.argv[1], terminated)
print("not reached")
"""


@posix_only
def test_sigterm_during_the_write_leaves_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    proc = subprocess.run(
        [sys.executable, "-c", _SIGTERM_SCRIPT, str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert "not reached" not in proc.stdout
    assert out.read_bytes() == b"complete"
    assert _leftovers(tmp_path, {"out.txt"}) == []


def test_sigterm_handler_of_the_program_is_respected() -> None:
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        pytest.skip("signal handlers live in the main thread")
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with _io._sigterm_raises():
            os.kill(os.getpid(), signal.SIGTERM)
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_concurrent_writers_each_leave_a_complete_file(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    payloads = [bytes([65 + i]) * 400_000 for i in range(4)]
    errors: list[BaseException] = []
    seen: set[bytes] = set()
    stop = threading.Event()

    def writer(data: bytes) -> None:
        try:
            for _ in range(15):
                _io.write_atomic(
                    out,
                    lambda fh: [fh.write(data[j : j + 4096]) for j in range(0, len(data), 4096)],
                )
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    def reader() -> None:
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                seen.add(out.read_bytes())

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    watch = threading.Thread(target=reader)
    watch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watch.join()
    assert errors == []
    assert out.read_bytes() in payloads
    assert seen <= set(payloads)  # a reader never saw a mix or a partial file
    assert _leftovers(tmp_path, {"out.bin"}) == []


_WRITER = """
import sys
from smoothie_core import _io
out, byte = sys.argv[1], sys.argv[2].encode()
for _ in range(20):
    _io.write_atomic(out, byte * 300_000)
"""


def test_two_processes_with_the_same_target(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(out), b]) for b in ("x", "y")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert out.read_bytes() in (b"x" * 300_000, b"y" * 300_000)
    assert _leftovers(tmp_path, {"out.bin"}) == []


def test_dash_is_stdout_only_when_asked(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    _io.write_atomic("-", "héllo\n", dash_means_stdout=True)
    assert capsysbinary.readouterr().out == "héllo\n".encode()
    monkeypatch.chdir(tmp_path)
    _io.write_atomic("-", b"a file named -")  # the Python API: "-" is a file name
    assert (tmp_path / "-").read_bytes() == b"a file named -"


@posix_only
def test_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with _io.open_output(fifo) as fh:
        fh.write("line 1\nline 2\n")
    reader.join(timeout=30)
    assert got == [b"line 1\nline 2\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a FIFO, never replaced
    assert _leftovers(tmp_path, {"pipe"}) == []


@posix_only
def test_character_device_is_written_in_place() -> None:
    assert _io.resolve_output("/dev/null").kind == "stream"
    _io.write_atomic("/dev/null", b"discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@posix_only
def test_dev_paths_are_never_created() -> None:
    with pytest.raises(FileNotFoundError, match="never created"):
        _io.write_atomic("/dev/smoothie-does-not-exist", b"x")
    assert not os.path.exists("/dev/smoothie-does-not-exist")


_DEV_STDOUT = """
import sys
from smoothie_core import _io
with _io.open_output("/dev/stdout") as fh:
    fh.write('{"a": 1}\\n')
print("summary", file=sys.stderr)
"""


@posix_only
@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout")
def test_dev_stdout_is_a_stream_not_replaced(tmp_path: Path) -> None:
    was_link = os.path.islink("/dev/stdout")
    try:
        for stdout in (subprocess.PIPE, (tmp_path / "redirected.txt").open("wb")):
            proc = subprocess.run(
                [sys.executable, "-c", _DEV_STDOUT], stdout=stdout, stderr=subprocess.PIPE,
                timeout=60,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            if stdout is subprocess.PIPE:
                assert proc.stdout == b'{"a": 1}\n'
            else:
                stdout.close()
                assert (tmp_path / "redirected.txt").read_bytes() == b'{"a": 1}\n'
        assert os.path.islink("/dev/stdout") == was_link
        assert not stat.S_ISREG(os.lstat("/dev/stdout").st_mode)
    finally:  # had it been replaced (as root, by the old code), put the link back
        if was_link and not os.path.islink("/dev/stdout"):  # pragma: no cover
            os.unlink("/dev/stdout")
            os.symlink("/proc/self/fd/1", "/dev/stdout")


@posix_only
def test_router_save_follows_the_same_rules(tmp_path: Path) -> None:
    from smoothie_core import HashingEmbedder, Router

    router = Router(["a", "b", "c"], embedder=HashingEmbedder(dim=8))
    prompts = [f"q{i}" for i in range(5)]
    router.calibrate(prompts, [{"a": f"x {i}", "b": f"y {i}", "c": f"x {i}!"} for i in range(5)])
    target = tmp_path / "kept.npz"
    target.write_bytes(b"kept")
    target.chmod(0o644)
    link = tmp_path / "router.npz"
    link.symlink_to(target)
    router.save(link)
    assert not link.is_symlink() and stat.S_IMODE(link.stat().st_mode) == 0o600
    assert target.read_bytes() == b"kept"
    assert Router.load(link).candidates == ["a", "b", "c"]
