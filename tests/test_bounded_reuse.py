"""The reused parser child of intake.bounded: one child answers many small parses under the same deadline
and memory cap; a timeout, a crash, growth or a large input each get a fresh child, so the verdict on a
hostile input is what a fresh child with the whole budget says."""

from __future__ import annotations

import os
import threading
import time

import pytest

from intake import bounded
from intake.bounded import REUSE_MAX_BYTES, ParseLimit, call_bounded

_HOARD: list[bytearray] = []


@pytest.fixture(autouse=True)
def fresh_server() -> None:
    """Each test starts without a reused child (an earlier test may have left one with another budget)."""
    if bounded._server is not None:
        bounded._server.stop()
    bounded._server = None


def _pid(*_: object) -> int:
    return os.getpid()


def _sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _keep(mb: int) -> int:
    """Allocates and keeps ``mb`` MB in the child (a parser that leaves its memory mapped)."""
    _HOARD.append(bytearray(mb << 20))
    return os.getpid()


def _gorge(*_: object) -> None:
    bytearray(1536 << 20)  # beyond any budget below


def _bounded(fn, *args, timeout: float = 30, memory_mb: int = 256):  # type: ignore[no-untyped-def]
    return call_bounded(fn, *args, timeout=timeout, memory_mb=memory_mb, what="Testing")


def test_small_parses_share_one_child_that_is_not_this_process() -> None:
    first, second = _bounded(_pid, b"x"), _bounded(_pid, b"y" * 1000)
    assert first == second != os.getpid()


def test_a_large_input_gets_a_fresh_child_each_time() -> None:
    big = b"z" * (REUSE_MAX_BYTES + 1)
    reused = _bounded(_pid, b"small")
    one, two = _bounded(_pid, big), _bounded(_pid, big)
    assert len({one, two, reused, os.getpid()}) == 4


def test_after_a_timeout_the_next_parse_gets_a_new_child() -> None:
    before = _bounded(_pid, b"a")
    with pytest.raises(ParseLimit, match="took longer than 0.5 s"):
        _bounded(time.sleep, 30, timeout=0.5)
    after = _bounded(_pid, b"b")
    assert after != before
    assert not os.path.exists(f"/proc/{before}") or open(f"/proc/{before}/stat").read().split()[2] == "Z"


def test_out_of_memory_is_decided_by_a_fresh_child_and_the_reused_one_is_replaced() -> None:
    before = _bounded(_pid, b"a")
    with pytest.raises(ParseLimit, match="out of memory"):
        _bounded(_gorge, b"bomb")
    assert _bounded(_pid, b"b") != before


def test_a_child_that_grew_leaves_and_the_next_parse_gets_the_whole_budget() -> None:
    grown = _bounded(_keep, 100)  # 100 MB kept: more than a quarter of 256 MB
    # the same amount again fits only in a fresh child's budget
    again = _bounded(_keep, 100)
    assert again != grown
    assert _bounded(_keep, 10) == _bounded(_pid, b"c")  # small growth: the same child keeps answering


def test_a_busy_child_does_not_make_another_caller_wait() -> None:
    results: dict[str, int] = {}
    busy = threading.Event()

    def slow() -> None:
        busy.set()
        results["slow"] = _bounded(_sleep_then_pid, 10.0)

    t = threading.Thread(target=slow)
    t.start()
    busy.wait()
    deadline = time.monotonic() + 30
    while bounded._server is None or not bounded._server.lock.locked():  # the reused child takes the slow parse
        assert time.monotonic() < deadline, "the slow parse never reached the reused child"
        time.sleep(0.01)
    results["quick"] = _bounded(_pid, b"q")
    assert t.is_alive()  # answered while the slow parse still runs: a fork of its own
    t.join()
    assert results["quick"] not in (results["slow"], os.getpid())


def test_an_inherited_child_is_not_used_after_a_fork() -> None:
    parent_child = _bounded(_pid, b"p")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked test process
        try:
            os.write(w, str(_bounded(_pid, b"k")).encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    from_fork = int(os.read(r, 64))
    os.close(r)
    assert from_fork not in (parent_child, pid)
    assert bounded._server is not None and bounded._server.owner == os.getpid()
