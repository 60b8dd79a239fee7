"""``bench.claim`` at toy size (3 agents, 20 items, SQLite, a real ``mailroom serve``): its last line has the
documented keys, every item was claimed exactly once through the HTTP API, and its exactly-once check does
report a double claim and a lost item when there is one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bench.claim import check_exactly_once
from storage.models import AuditEvent, WorkItem

LAST = re.compile(r"^bench claim: items=20 agents=3 sqlite_claim_p50_ms=(\d+\.\d) sqlite_claim_p99_ms=(\d+\.\d) "
                  r"exactly_once=(true|false)(?: [a-z0-9_]+=\S+)*$")


@pytest.mark.slow
def test_claim_bench_toy_run(tmp_path: Path) -> None:
    keep = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "bench.claim", "--engines", "sqlite", "--items", "20", "--agents", "3",
         "--procs", "2", "--sse", "1", "--work-ms", "20", "--fill", "rows", "--settle", "0", "--keep", str(keep)],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    m = LAST.match(lines[-1])
    assert m, f"last line: {lines[-1]!r}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    assert m.group(3) == "true" and done.returncode == 0, done.stdout[-3000:]
    assert float(m.group(1)) <= float(m.group(2))
    assert "sse_complete=true" in lines[-1]

    # the database of the run, checked here too: every item done, claimed once, completed by its claimer
    url = f"sqlite:///{keep / 'sqlite' / 'mailroom.db'}"
    engine = create_engine(url)
    with Session(engine) as s:
        items = dict(s.execute(select(WorkItem.id, WorkItem.assignee).where(WorkItem.state == "done")).all())
        assert len(items) == 20 and s.scalar(select(WorkItem.id).where(WorkItem.state != "done")) is None
        claimed = Counter(s.scalars(select(AuditEvent.work_item_id).where(AuditEvent.action == "work_item.claimed")))
        assert set(claimed) == set(items) and set(claimed.values()) == {1}
    engine.dispose()
    requests = [json.loads(line) for line in (keep / "sqlite-requests.jsonl").read_text().splitlines()]
    claims = [(r["agent"], r["item"], r["ms"] / 1000) for r in requests if r["kind"] == "claim"]
    assert sorted(i for _, i, _ in claims) == sorted(items)
    assert {agent for agent, _, _ in claims} == {"agent00", "agent01", "agent02"}  # the work was shared
    assert all(items[i] == agent for agent, i, _ in claims)

    # the bench's own check against that database: clean as run, and it catches a double claim and a lost item
    assert check_exactly_once(url, claims, len(claims)) == []
    agent, item, lat = claims[0]
    twice = check_exactly_once(url, [*claims, ("agent09", item, lat)], len(claims) + 1)
    assert any("more than once" in p for p in twice), twice
    assert any("another agent" in p for p in twice), twice
    lost = check_exactly_once(url, claims[1:], len(claims) - 1)
    assert any("never claimed" in p for p in lost), lost
