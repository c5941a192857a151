"""One `salesop run` / `salesop serve` per embedded data directory, and a taken port: each refused in one line, exit
code 1, before anything is touched. The CLI runs as subprocesses, as a person would run it."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time

import pytest

from salesop.runner import AlreadyRunning, DataDirLock
from tests.conftest import free_port

SALESOP = [sys.executable, "-m", "salesop.cli"]


def _env(data_dir, **extra) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    return {**clean, "SALESOP_DATA_DIR": str(data_dir), **extra}


def _run(args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*SALESOP, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def _wait_for_line(proc: subprocess.Popen, word: str, timeout: float = 180.0) -> list[str]:
    """Lines the process printed until one starts with `word` (fails when it exits or the time runs out)."""
    buffer, lines = b"", []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        lines += [line.decode() for line in complete]
        if any(line.startswith(word) for line in lines):
            return lines
    raise AssertionError(f"no {word!r} line; got {lines!r}")


@pytest.fixture(scope="module")
def first(tmp_path_factory, embedded_data_dir):
    """`salesop serve webapp` on an embedded data directory, running (one for the module: it starts PostgreSQL)."""
    data_dir = embedded_data_dir(tmp_path_factory.mktemp("first") / "var")
    port = free_port()
    env = _env(data_dir, SALESOP_WEBAPP_PORT=str(port))
    proc = subprocess.Popen([*SALESOP, "serve", "webapp"], env=env, cwd=data_dir.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        _wait_for_line(proc, "ready")
        yield data_dir, port, env
    finally:
        proc.send_signal(signal.SIGTERM)  # a clean stop also stops its embedded PostgreSQL
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_second_run_or_serve_on_the_same_data_directory_refuses_in_one_line(first, tmp_path):
    data_dir, port, env = first
    before = sorted(p.name for p in data_dir.iterdir())
    for args in (["run"], ["serve", "bot"]):
        result = _run(args, {**env, "SALESOP_WEBAPP_PORT": str(free_port())}, tmp_path)
        assert result.returncode == 1, result
        assert result.stdout == ""  # no "demo", no "database", no "ready": it touched nothing
        [line] = result.stderr.splitlines()
        assert line.startswith(f"salesop: в {data_dir} уже работает другой salesop (pid "), line  # in Russian, the default
    assert sorted(p.name for p in data_dir.iterdir()) == before


def test_a_port_in_use_is_one_line(first, tmp_path):
    _, port, _ = first
    other = tmp_path / "other"
    result = _run(["serve", "webapp"], _env(other, SALESOP_WEBAPP_PORT=str(port)), tmp_path)
    assert result.returncode == 1, result
    [line] = result.stderr.splitlines()
    assert f"не может слушать 127.0.0.1:{port}" in line and "SALESOP_WEBAPP_PORT" in line, line
    assert not (other / "pgdata").exists()  # refused before the database was started


def test_the_lock_dies_with_its_process(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom salesop.runner import DataDirLock\n"
         f"DataDirLock({str(tmp_path)!r}).acquire()\nprint('held', flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        _wait_for_line(holder, "held", timeout=60)
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}"):
            DataDirLock(tmp_path).acquire()
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        holder.wait()
    lock = DataDirLock(tmp_path).acquire()
    lock.release()


def test_a_port_check_sees_a_listening_socket(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = _run(["serve", "webapp"], _env(tmp_path / "var", SALESOP_WEBAPP_PORT=str(port)), tmp_path)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result
