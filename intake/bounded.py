"""Run a parser on untrusted bytes in a child process, with a deadline and a memory budget.

Python cannot stop a thread that is stuck in a parser (and a C parser holds the GIL), so the parsers
of what arrives (MIME, Outlook .msg, TNEF, page counting) run in a forked child. The child only parses
(email, lxml, charset-normalizer, Pillow headers, PDFium page counts) and sends the result back; the one
lock of ours it may need, PDFium's, is held while forking, so no other thread of a multi-threaded caller
(the web app, the SMTP endpoint, a hot-folder watcher) can be inside PDFium at that moment. A fork starts
in milliseconds (a fork server would have to import the parsers first: seconds for the first arrival).
The child's address space is capped (``RLIMIT_AS``: what it has at start plus the budget); when it runs
out of time or memory it is killed and the caller gets a :class:`ParseLimit` with the reason.

Code already running in such a child calls the function directly (a child has no children).

Forking a warm worker costs ≈ 10 ms of CPU (its page tables), twice per e-mail, more than reading a plain
e-mail itself. So each process keeps one forked parser child for small inputs (``REUSE_MAX_BYTES``): it
takes ``(fn, args)`` over a pipe and answers, under the same deadline and address-space cap. It is used by
one caller at a time (a caller that finds it busy forks as before), killed on a deadline and replaced, and
it leaves by itself once what it has mapped grew by more than a quarter of its budget (so one large
message does not shrink the next one's budget) or when its parent is gone (the pipe closes). A parse it
could not finish (out of memory, a crash) is tried once more in a fresh child, so the answer for a
hostile input is the same as before: a fresh child with the whole budget decides.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from ground.errors import MailroomError

log = logging.getLogger(__name__)
T = TypeVar("T")

_in_child = False


class ParseLimit(MailroomError):
    """Reading the arrival took longer or more memory than allowed; the original is kept."""

    code = "parse_limit"
    http_status = 422


def call_bounded(fn: Callable[..., T], *args: Any, timeout: float, memory_mb: int, what: str) -> T:
    """``fn(*args)`` in a child process; raises what ``fn`` raised if it was a MailroomError, else ParseLimit.

    ``what`` names the work in the reason ("Reading the e-mail"). Falls back to a direct call when no child
    can be started (the platform has no fork), or when this already is such a child."""
    if _in_child or timeout <= 0:
        return fn(*args)
    if sum(len(a) for a in args if isinstance(a, bytes | bytearray)) <= REUSE_MAX_BYTES:
        server = _server_for(memory_mb)
        if server is not None and server.lock.acquire(blocking=False):
            try:
                message = server.call(fn, args, timeout)
            finally:
                server.lock.release()
            if message is not None and message[0] in ("ok", "error"):
                return _answer(message, what)
            if message is None and server.timed_out:
                raise ParseLimit(f"{what} took longer than {timeout:g} s and was stopped; the original is kept.")
            if message is not None and message[0] == "crash":
                server.stop()  # out of memory or a parser crash: not reused after that
            # a fresh child with the whole budget decides
    return _call_forked(fn, args, timeout=timeout, memory_mb=memory_mb, what=what)


def _call_forked(fn: Callable[..., T], args: tuple[Any, ...], *, timeout: float, memory_mb: int, what: str) -> T:
    from ocr.pages import PDFIUM_LOCK

    try:
        ctx = mp.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child, args=(sender, fn, args, memory_mb), daemon=True)
        with PDFIUM_LOCK:  # no other thread is inside PDFium while the child is made (it may use PDFium)
            child.start()
    except (OSError, ValueError, RuntimeError) as exc:  # no fork here: the parsers are bounded by design too
        log.warning("cannot start a parser child (%s); parsing in this process", exc)
        return fn(*args)
    sender.close()
    try:
        message = receiver.recv() if receiver.poll(timeout) else None
    except (EOFError, OSError):  # the child died (killed by the memory limit, a crash in C)
        message = None
    finally:
        receiver.close()
        if message is None:  # out of time, or dead: make sure it is gone
            child.kill()
            child.join()
        # else it is exiting now; multiprocessing reaps it when the next child starts
    if message is None:
        if child.exitcode is not None and child.exitcode not in (0, -9):
            reason = (f"{what} failed: the parser stopped (exit {child.exitcode}), probably on its memory limit "
                      f"of {memory_mb} MB; the original is kept.")
        else:
            reason = f"{what} took longer than {timeout:g} s and was stopped; the original is kept."
        raise ParseLimit(reason)
    return _answer(message, what)


def _answer(message: tuple[str, Any], what: str) -> Any:
    kind, value = message
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    raise ParseLimit(f"{what} failed ({value}); the original is kept.")


REUSE_MAX_BYTES = 2 * 1024 * 1024  # larger inputs go to a fresh fork: sending them costs more than forking


class _Server:
    """One reused parser child of this process (see the module's docstring)."""

    def __init__(self, memory_mb: int) -> None:
        from ocr.pages import PDFIUM_LOCK

        self.memory_mb = memory_mb
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self.timed_out = False
        ctx = mp.get_context("fork")
        self.conn, child_end = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_serve, args=(child_end, self.conn, memory_mb), daemon=True)
        with PDFIUM_LOCK:
            self.process.start()
        child_end.close()

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> tuple[str, Any] | None:
        """The child's answer, or None (it is then gone: out of time, dead, or it could not take the work)."""
        self.timed_out = False
        try:
            self.conn.send((fn, args))
            if self.conn.poll(timeout):
                return self.conn.recv()  # type: ignore[no-any-return]
            self.timed_out = True
        except (EOFError, OSError, ValueError):  # the child left (its growth limit) or died
            pass
        except Exception as exc:  # noqa: BLE001 - cannot be pickled: a fresh fork needs no pickling
            log.debug("parser child not used: %s", exc)
            return ("unsent", str(exc))
        self.stop()
        return None

    @property
    def alive(self) -> bool:
        return self.process.is_alive() and not self.conn.closed

    def stop(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


_server: _Server | None = None
_server_lock = threading.Lock()


def _server_for(memory_mb: int) -> _Server | None:
    """This process's reused child (made on first use; a new one after it left); None where none can run."""
    global _server
    with _server_lock:
        server = _server
        if server is not None and server.owner != os.getpid():
            server = None  # inherited through a fork: it is the parent's
        elif server is not None and server.memory_mb != memory_mb:
            return None  # another budget: a fresh fork for this one
        elif server is not None and not server.lock.locked() and not server.alive:
            server.stop()
            server = None
        if server is None:
            try:
                server = _server = _Server(memory_mb)
            except (OSError, ValueError, RuntimeError) as exc:
                log.warning("cannot start a parser child (%s)", exc)
                return None
        return server


def _serve(conn: Connection, parent_end: Connection, memory_mb: int) -> None:
    """The reused child's loop: one ``(fn, args)`` at a time, answered like a forked child's result. It keeps no
    signal handler of its parent (a service's stop ends it quietly; Ctrl-C is its parent's to answer: it leaves
    when its parent is gone)."""
    global _in_child
    _in_child = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent_end.close()
    start = _mapped_kb()
    _limit_memory(memory_mb)
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        try:
            conn.send(_run(fn, args, memory_mb))
        except MemoryError:
            conn.send(("crash", f"out of memory: more than {memory_mb} MB"))
            return
        if memory_mb > 0 and _mapped_kb() - start > memory_mb * 1024 // 4:
            return  # grown: the next parse gets a fresh child with its whole budget


def _run(fn: Callable[..., Any], args: tuple[Any, ...], memory_mb: int) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except MailroomError as exc:
        return ("error", type(exc)(exc.reason) if _plain(exc) else MailroomError(exc.reason))
    except MemoryError:
        return ("crash", f"out of memory: more than {memory_mb} MB")
    except RecursionError:
        return ("crash", "nested too deeply")
    except Exception as exc:  # noqa: BLE001 - any parser bug: the caller quarantines with this reason
        return ("crash", f"{type(exc).__name__}: {str(exc)[:300]}")


def _child(sender: Connection, fn: Callable[..., Any], args: tuple[Any, ...], memory_mb: int) -> None:
    global _in_child
    _in_child = True
    _limit_memory(memory_mb)
    result = _run(fn, args, memory_mb)
    try:
        sender.send(result)
    except MemoryError:
        sender.send(("crash", f"out of memory: more than {memory_mb} MB"))
    finally:
        sender.close()


def _plain(exc: MailroomError) -> bool:
    """Whether the error rebuilds from its reason alone (every ground.errors class does)."""
    try:
        type(exc)(exc.reason)
    except TypeError:
        return False
    return True


def _mapped_kb() -> int:
    """What this process maps now (VmSize, kB); 0 where /proc cannot tell."""
    try:
        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    except (OSError, ValueError, StopIteration):
        return 0


def _limit_memory(memory_mb: int) -> None:
    """Cap this process's address space at what it maps now plus ``memory_mb``."""
    size_kb = _mapped_kb()
    if memory_mb <= 0 or not size_kb:  # not Linux: the deadline still holds
        return
    try:
        import resource

        limit = size_kb * 1024 + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError, ImportError):
        pass
