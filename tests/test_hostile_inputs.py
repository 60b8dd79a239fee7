"""Hostile input corpus (tests/hostile/make_corpus.py, ≥ 30 fixtures written at test time) through
``mailroom process --json`` and through the rq worker: each ends exactly as its fixture states — in its
one end state, with the words of its reason, or as the documents and text it must give — within a time
budget, in a process that survives with bounded memory, and no hostile name becomes a path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.receive import enqueue, receive
from ground.settings import Settings
from pipeline.context import get_context
from pipeline.jobs import job_queue
from storage.db import session_scope
from storage.models import Document, Envelope
from tests.hostile.make_corpus import PROCESSED, Expect, disk_name, make

ROOT = Path(__file__).resolve().parent.parent
RSS_CAP_MB = 1536  # worker memory cap (ru_maxrss of the child)
PER_FILE_BUDGET_S = 60.0
ESCAPE = Path("/tmp/mailroom-escape.pdf")


@dataclass
class Run:
    corpus: Path
    data: Path
    expected: dict[str, Expect]  # by the name handed to intake
    lines: list[tuple[float, dict[str, Any]]]
    returncode: int
    maxrss_mb: float
    stderr: str
    seconds: float


def problems(expect: Expect, env: Envelope, texts: list[str]) -> list[str]:
    """How ``env`` (its documents' ``texts`` in order) differs from ``expect``; empty when it matches exactly."""
    found = []
    if env.state != expect.state:
        found.append(f"state {env.state!r}, expected {expect.state!r} (error: {env.error!r})")
    if expect.state != PROCESSED:
        error = (env.error or "").lower()
        found += [f"reason {env.error!r} lacks {word!r}" for word in expect.reason if word.lower() not in error]
        if env.attempts > 1:  # a file a person must fix is not retried in a loop
            found.append(f"{env.attempts} attempts")
        return found
    if len(texts) != expect.documents:
        found.append(f"{len(texts)} documents, expected {expect.documents}")
    text, at = "\n".join(texts).lower(), 0
    for word in expect.text:  # in this order: an e-mail's body before its attachments
        at = text.find(word.lower(), at)
        if at < 0:
            found.append(f"text lacks {word!r} (in this order: {expect.text})")
            break
        at += len(word)
    found += [f"text contains {word!r}" for word in expect.absent if word.lower() in text]
    return found


HOSTILE_PARTS = ("passwd", "escape", "dot-dot", "windows", "x.pdf")


def assert_nothing_escaped(data: Path, cwd: Path, fixtures: frozenset[str] = frozenset()) -> None:
    """No hostile name became a path: nothing named after one inside the data directory, next to it, or in
    or next to the directory the process ran in (where ``../dot-dot.pdf`` would land); ``fixtures``: the
    corpus files themselves, when the process ran among them."""
    assert not ESCAPE.exists()
    inside = [p for p in data.rglob("*") if any(bad in p.name for bad in HOSTILE_PARTS)]
    around = [p for where in (data.parent, cwd, cwd.parent) for p in where.iterdir()
              if any(bad in p.name for bad in HOSTILE_PARTS) and p.name not in fixtures]
    assert not inside and not around, (inside, around)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    corpus = tmp_path_factory.mktemp("hostile")
    data = tmp_path_factory.mktemp("hostile-data")
    ESCAPE.unlink(missing_ok=True)
    expected = make(corpus)
    env = dict(os.environ, MAILROOM_DATA=str(data), OMP_THREAD_LIMIT="1", PYTHONPATH=str(ROOT))
    started = time.monotonic()
    # the CLI names a file by its path's last part, so a name with "/" goes in as written on disk
    proc = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "process", "--json",
                             *sorted(disk_name(name) for name in expected)],
                            cwd=corpus, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    last = started
    assert proc.stdout is not None and proc.stderr is not None
    for raw in proc.stdout:
        now = time.monotonic()
        lines.append((now - last, json.loads(raw)))
        last = now
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(corpus, data, expected, lines, proc.returncode, usage.ru_maxrss / 1024, stderr,
               time.monotonic() - started)


def test_corpus_has_at_least_30_fixtures(hostile_run: Run) -> None:
    assert len(hostile_run.expected) >= 30
    assert sum(1 for p in hostile_run.corpus.iterdir()) == len(hostile_run.expected)


@pytest.mark.slow
def test_every_hostile_file_ends_exactly_as_expected(hostile_run: Run) -> None:
    run = hostile_run
    assert run.returncode == 1, run.stderr[-2000:]  # some files failed, none crashed the process
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    by_source: dict[str, list[dict[str, Any]]] = {}
    for _, line in run.lines:
        by_source.setdefault(line["source"], []).append(line)
    names = {disk_name(name): name for name in run.expected}
    assert set(by_source) == set(names)
    envelope_of = {source: {line.get("envelope_id") for line in lines} for source, lines in by_source.items()}
    shared = {s: e for s, e in envelope_of.items() if sum(e == other for other in envelope_of.values()) > 1}
    assert not shared, shared  # every fixture is its own envelope, none a duplicate of another
    wrong: dict[str, list[str]] = {}
    with session_scope(f"sqlite:///{run.data / 'mailroom.db'}") as s:
        envs = {e.id: e for e in s.scalars(select(Envelope)).all()}
        for source, lines in by_source.items():
            expect = run.expected[names[source]]
            env_ids = {line["envelope_id"] for line in lines if "envelope_id" in line}
            assert len(env_ids) == 1, (source, lines)
            env = envs[env_ids.pop()]
            found = problems(expect, env, [line["text"] for line in lines if "text" in line])
            if env.state != PROCESSED and not all(line.get("error") == env.error for line in lines):
                found.append(f"output lines {lines} do not carry the reason {env.error!r}")
            if found:
                wrong[source] = found
    assert not wrong, "\n".join(f"{name}: {'; '.join(found)}" for name, found in sorted(wrong.items()))


@pytest.mark.slow
def test_time_budget_and_memory_cap(hostile_run: Run) -> None:
    slowest = max(hostile_run.lines, key=lambda item: item[0])
    assert slowest[0] < PER_FILE_BUDGET_S, slowest
    assert hostile_run.seconds < 20 * PER_FILE_BUDGET_S
    assert hostile_run.maxrss_mb < RSS_CAP_MB, hostile_run.maxrss_mb


@pytest.mark.slow
def test_nothing_escapes_and_names_never_become_paths(hostile_run: Run) -> None:
    assert_nothing_escaped(hostile_run.data, hostile_run.corpus,  # the CLI ran in the corpus directory
                           frozenset(map(disk_name, hostile_run.expected)))
    assert sorted(p.name for p in hostile_run.corpus.iterdir()) == sorted(map(disk_name, hostile_run.expected))
    blobs = hostile_run.data / "blobs"
    for path in blobs.rglob("*"):
        if path.is_file():  # storage keys are SHA-256 hex, never derived from a name
            assert len(path.name) == 64 and all(c in "0123456789abcdef" for c in path.name), path
    with session_scope(f"sqlite:///{hostile_run.data / 'mailroom.db'}") as s:
        names = set(s.scalars(select(Envelope.source_name)))
    assert "..%2Fdot-dot.pdf" in names and "crlf-\r\nname.pdf" in names  # kept as data, shown escaped


@pytest.mark.slow
def test_rq_worker_survives_the_hostile_corpus(redis_settings: Settings, tmp_path: Path) -> None:
    """The same files through the API's path (``receive``: store, sniff, enqueue) under the names they carry —
    ``../dot-dot.pdf`` is handed to intake as it is — and a real ``mailroom worker --burst``."""
    ctx = get_context(redis_settings)
    corpus = tmp_path / "hostile"
    expected = make(corpus)
    queue = job_queue(ctx.settings)
    ids: dict[str, str] = {}
    for name in sorted(expected):
        got = receive(ctx, (corpus / disk_name(name)).read_bytes(), name, datetime.now(UTC),
                      submitted_by="station", dispatch=enqueue(ctx))
        assert not got.duplicate, name
        ids[name] = got.envelope_id
    env = dict(os.environ, MAILROOM_DATA=str(redis_settings.data), OMP_THREAD_LIMIT="1")
    proc = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "worker", "--burst"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert usage.ru_maxrss / 1024 < RSS_CAP_MB  # the worker and every work-horse it forked
    wrong: dict[str, list[str]] = {}
    with session_scope(ctx.db_url) as s:
        for name, env_id in ids.items():
            envelope = s.get(Envelope, env_id)
            assert envelope is not None, name
            docs = sorted(s.scalars(select(Document).where(Document.envelope_id == env_id)),
                          key=lambda d: (d.part_index, d.doc_index))
            found = problems(expected[name], envelope, [d.text or "" for d in docs])
            if found:
                wrong[name] = found
        names = set(s.scalars(select(Envelope.source_name)))
    assert not wrong, "\n".join(f"{name!r}: {'; '.join(found)}" for name, found in sorted(wrong.items()))
    failed = queue.failed_job_registry.get_job_ids()
    assert not failed, failed
    # the hostile names reached intake as they are, were kept as data, and none became a path
    assert {"../dot-dot.pdf", "crlf-\r\nname.pdf", "rtl-\u202efdp.exe"} <= names
    assert_nothing_escaped(redis_settings.data, ROOT)
