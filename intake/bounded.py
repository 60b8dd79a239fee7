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
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
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
    kind, value = message
    if kind == "ok":
        return value  # type: ignore[no-any-return]
    if kind == "error":
        raise value
    raise ParseLimit(f"{what} failed ({value}); the original is kept.")


def _child(sender: Connection, fn: Callable[..., Any], args: tuple[Any, ...], memory_mb: int) -> None:
    global _in_child
    _in_child = True
    _limit_memory(memory_mb)
    try:
        result: tuple[str, Any] = ("ok", fn(*args))
    except MailroomError as exc:
        result = ("error", type(exc)(exc.reason) if _plain(exc) else MailroomError(exc.reason))
    except MemoryError:
        result = ("crash", f"out of memory: more than {memory_mb} MB")
    except RecursionError:
        result = ("crash", "nested too deeply")
    except Exception as exc:  # noqa: BLE001 - any parser bug: the caller quarantines with this reason
        result = ("crash", f"{type(exc).__name__}: {str(exc)[:300]}")
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


def _limit_memory(memory_mb: int) -> None:
    """Cap this process's address space at what it maps now plus ``memory_mb``."""
    if memory_mb <= 0:
        return
    try:
        import resource

        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
            size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        limit = size_kb * 1024 + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError, StopIteration, ImportError):  # not Linux: the deadline still holds
        pass
