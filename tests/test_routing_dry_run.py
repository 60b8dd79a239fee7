"""``mailroom route --dry-run``: which rule a file or stored document would hit, and why; nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailroom.cli import main
from pipeline.context import Context
from storage.db import session_scope
from storage.models import Document, Envelope, WorkItem

COURT = ("Sąd Rejonowy dla Warszawy-Mokotowa, I Wydział Cywilny. Nakaz zapłaty w postępowaniu upominawczym "
         "przeciwko spółce. Sygn. akt I Nc 1234/26. Pozew o zapłatę kwoty 1 250,00 zł wraz z odsetkami, "
         "komornik sądowy, egzekucja.")


def test_dry_run_on_a_stored_document_names_skipped_rules_and_the_hit(ctx: Context,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope(ctx.db_url) as s:
        s.add(Envelope(id="e1", channel="fax", source_name="x.tif", content_type="image/tiff", sha256="1" * 64,
                       size=1))
        s.add(Document(id="doc-1", envelope_id="e1", part_index=0, doc_index=0, part_sha256="0" * 64, pages=1,
                       text=COURT))
    assert main(["route", "--dry-run", "doc-1"]) == 0
    out = capsys.readouterr().out
    assert "document doc-1: pl legal" in out and "channel fax" in out
    assert "HIT  courts-and-regulators" in out and "text matched" in out
    assert "→ queue legal, priority 100" in out
    assert main(["route", "--dry-run", "--json", "doc-1"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["rule"] == "courts-and-regulators" and line["steps"][-1]["matched"] is True
    with session_scope(ctx.db_url) as s:
        assert s.scalar(select(func.count()).select_from(WorkItem)) == 0  # a dry run routes nothing


def test_dry_run_on_a_file_shows_why_earlier_rules_were_skipped(ctx: Context, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    eml = tmp_path / "complaint.eml"
    eml.write_text("From: jan@example.pl\nTo: bok@example.pl\nSubject: Reklamacja\nContent-Type: text/plain; "
                   "charset=utf-8\n\nSkładam reklamację faktury FV/2026/10/004512. Naliczono opłatę za usługę, "
                   "której nie zamawiałem. Proszę o korektę faktury i zwrot nadpłaty. Nr klienta MR-1234567.\n",
                   encoding="utf-8")
    assert main(["route", "--dry-run", str(eml)]) == 0
    out = capsys.readouterr().out
    assert "channel email" in out and "complaint" in out
    assert "skip courts-and-regulators: category 'complaint' is not in ['legal']" in out
    assert "skip business-complaints: segment 'individual' is not in ['business']" in out
    assert "HIT  complaints" in out and "statutory:pl-telecom-complaint" not in out.split("skip")[0]
    with session_scope(ctx.db_url) as s:
        assert s.scalar(select(func.count()).select_from(Envelope)) == 0  # nothing stored


def test_dry_run_unknown_target(ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--dry-run", "no-such-thing"]) == 2
    assert "neither a readable file nor a stored document id" in capsys.readouterr().err
