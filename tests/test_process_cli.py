"""`mailroom process --json` over a generated corpus of every form: the stable contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from ground.records import CATEGORIES, ENTITY_NAMES
from storage.customers import DEMO_CUSTOMERS

CUSTOMER_IDS = {c[0] for c in DEMO_CUSTOMERS}  # a fresh data directory holds no other customers

FIELDS = {"source": str, "document_id": str, "channel": str, "pages": int, "language": str, "category": str,
          "confidence": float, "queue": str, "priority": int, "sla_due": str, "entities": dict, "text": str}


def _run(args: list[str], data: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MAILROOM_DATA=str(data))
    return subprocess.run([sys.executable, "-m", "mailroom.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=1500)


@pytest.mark.slow
def test_process_whole_corpus_prints_contract_lines(corpus_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((corpus_dir / "manifest.json").read_text())["files"]
    files = [str(corpus_dir / rec["file"]) for rec in manifest]
    assert len(files) >= 40
    assert {rec["form"] for rec in manifest} >= {"scan_png", "scan_pdf", "text_pdf", "fax_tiff", "eml", "batch_pdf"}
    os.chmod(corpus_dir, 0o555)  # inputs in a read-only folder: nothing may be written there
    try:
        proc = _run(["process", "--json", *files], tmp_path / "data", cwd=corpus_dir)
    finally:
        os.chmod(corpus_dir, 0o755)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_source: dict[str, list[dict]] = {}
    for line in lines:
        for name, kind in FIELDS.items():
            assert isinstance(line[name], kind), (name, line.get(name))
        assert line["channel"] in {"scan", "fax", "email", "upload"}
        assert line["category"] in CATEGORIES
        assert 0.0 <= line["confidence"] <= 1.0
        assert line["pages"] >= 1
        assert datetime.fromisoformat(line["sla_due"]).utcoffset() is not None
        assert set(line["entities"]) <= set(ENTITY_NAMES)
        assert all(isinstance(v, list) for v in line["entities"].values())
        assert line["text"].strip()
        assert "customer" in line and (line["customer"] is None or line["customer"] in CUSTOMER_IDS)
        by_source.setdefault(line["source"], []).append(line)
    assert set(by_source) == set(files)  # every file answered, exactly as given

    right_language = total_language = 0
    for rec in manifest:
        got = by_source[str(corpus_dir / rec["file"])]
        assert len(got) == len(rec["documents"]), rec["file"]
        assert {g["channel"] for g in got} == {rec["channel"]}
        for g, want in zip(got, rec["documents"], strict=True):
            # an e-mail is one letter: its cover note is page 1, the attachment's pages follow
            cover = 1 if rec["form"] == "eml" and rec.get("attachment") and (rec.get("email_body") or "").strip() else 0
            assert g["pages"] == want["pages"] + cover, rec["file"]
            if rec["form"] in ("scan_png", "text_pdf"):
                assert g["language"] == want["language"], rec["file"]
            total_language += 1
            right_language += g["language"] == want["language"]
    assert right_language / total_language >= 0.9

    # stable ids: a second run over the same files gives the same documents, no new work items
    again = _run(["process", "--json", *files[:3]], tmp_path / "data")
    assert again.returncode == 0
    ids_again = [json.loads(line)["document_id"] for line in again.stdout.splitlines()]
    assert ids_again == [g["document_id"] for f in files[:3] for g in by_source[f]]
    assert not any(corpus_dir.glob("*.db")) and not (corpus_dir / "data").exists()


def test_process_reports_bad_files_and_carries_on(corpus_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-letter.bin"
    bad.write_bytes(b"\x00\x01\x02 this is no document \xff" * 10)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    good = next(p for p in sorted(corpus_dir.glob("*.eml")))
    missing = tmp_path / "missing.png"
    proc = _run(["process", "--json", str(bad), str(empty), str(truncated), str(missing), str(good)], tmp_path / "d")
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    errors = {line["source"]: line["error"] for line in lines if "error" in line}
    assert set(errors) == {str(bad), str(empty), str(truncated), str(missing)}
    assert all(len(reason) > 20 for reason in errors.values())
    assert any(line["source"] == str(good) and "category" in line for line in lines)
    # the bad files that exist are quarantined with their originals kept
    from storage.blobs import FsBlobStore
    from storage.db import session_scope
    from storage.models import Envelope

    with session_scope(f"sqlite:///{tmp_path / 'd' / 'mailroom.db'}") as s:
        quarantined = {e.source_name: e for e in s.query(Envelope).filter(Envelope.state == "quarantined")}
    assert set(quarantined) == {bad.name, empty.name, truncated.name}
    blobs = FsBlobStore(tmp_path / "d" / "blobs")
    for path in (bad, empty, truncated):
        assert blobs.get(quarantined[path.name].sha256) == path.read_bytes()
        assert quarantined[path.name].error


def test_ocr_command_prints_text(corpus_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((corpus_dir / "manifest.json").read_text())["files"]
    rec = next(r for r in manifest if r["form"] == "text_pdf")
    proc = _run(["ocr", str(corpus_dir / rec["file"])], tmp_path / "d")
    assert proc.returncode == 0, proc.stderr
    first_words = rec["documents"][0]["text"].split()[:5]
    assert all(w in proc.stdout for w in first_words)


def test_jobs_keep_the_order_and_the_lines_of_one_process(tmp_path: Path) -> None:
    """``--jobs 2`` reads files in two processes; its output is that of ``--jobs 1``, in the order of the
    inputs, error lines in their place (ids and 24/7 due times aside, which differ by run)."""
    from corpus.generate import generate

    letters = tmp_path / "in"
    truth = generate(letters, seed=4, count=6, forms=["eml", "text_pdf"])
    files = [str(letters / r["file"]) for r in truth]
    bad = letters / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n not really")
    files.insert(2, str(bad))
    runs = {}
    for jobs in (1, 2):
        done = _run(["process", "--json", "--jobs", str(jobs), *files], tmp_path / f"data{jobs}")
        assert done.returncode == 1, done.stderr[-2000:]  # the broken file fails, the others go on
        assert "Traceback" not in done.stderr
        runs[jobs] = [json.loads(line) for line in done.stdout.splitlines()]
    plain = [{k: v for k, v in line.items() if k not in ("document_id", "envelope_id", "sla_due")}
             for line in runs[1]]
    assert [line["source"] for line in runs[2]] == [line["source"] for line in runs[1]]
    assert [{k: v for k, v in line.items() if k not in ("document_id", "envelope_id", "sla_due")}
            for line in runs[2]] == plain
    assert [line["source"] for line in runs[1]][2] == str(bad) and "error" in runs[1][2]


def test_process_names_the_linked_customer(tmp_path: Path) -> None:
    """`customer` in the JSON line: the number of the customer the letter was linked to, null when none."""
    data = tmp_path / "data"
    listing = tmp_path / "customers.csv"
    listing.write_text("id,name,email\nMR-2345678,Anna Nowak,anna.nowak@wp.pl\n", encoding="utf-8")
    assert _run(["customers", "import", str(listing)], data).returncode == 0
    for name, body, expected in (("known.eml", "Nr klienta MR-2345678. Proszę o duplikat faktury.", "MR-2345678"),
                                 ("unknown.eml", "Nr klienta MR-9999999. Proszę o duplikat faktury.", None)):
        (tmp_path / name).write_text(f"From: Anna <x@example.pl>\nSubject: Faktura\nMessage-ID: <{name}@x>\n"
                                     f"Content-Type: text/plain; charset=utf-8\n\n{body}\n", encoding="utf-8")
        proc = _run(["process", "--json", str(tmp_path / name)], data)
        assert proc.returncode == 0, proc.stderr[-2000:]
        (line,) = [json.loads(x) for x in proc.stdout.splitlines()]
        assert line["customer"] == expected, line


def test_a_lone_e_mail_loads_no_ocr_engine(tmp_path: Path) -> None:
    """`mailroom process one.eml` (every core by default) reads the body: nothing forks to share resources, so
    nothing is loaded ahead for it, the OCR engine least of all (it cost about 0.4 s of a 2.4 s run)."""
    mail = tmp_path / "one.eml"
    mail.write_text("From: Jan <jan@example.pl>\nSubject: Reklamacja\nMessage-ID: <lone@x>\n"
                    "Content-Type: text/plain; charset=utf-8\n\nSkładam reklamację faktury za listopad.\n",
                    encoding="utf-8")
    script = ("import sys, json\n"
              "from mailroom.process import process_files\n"
              "[(source, lines)] = list(process_files([sys.argv[1]], jobs=2))\n"
              "print(json.dumps([lines[0]['category'], 'tesserocr' in sys.modules]))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(mail)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, MAILROOM_DATA=str(tmp_path / "data"), MAILROOM_OCR_ENGINE="tesserocr"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == ["complaint", False]  # no engine made


@pytest.mark.slow
def test_every_cpython_test_email_message_in_one_parallel_run(tmp_path: Path) -> None:
    """All of CPython's test_email messages in one `mailroom process --jobs 2`, as a user runs it on a folder.

    Several share a Message-ID (msg_01, 03, 14, 20, 29) and two processes accept and read them at once: each
    is the first's duplicate, never a crash that ends the run. Every file gives lines: documents, or the clear
    error of a message with no readable text."""
    from tests.test_real_mail import cpython_mail_dir

    folder = tmp_path / "mail"
    folder.mkdir()
    for msg in sorted(cpython_mail_dir().glob("msg_*.txt")):
        (folder / f"{msg.stem}.eml").write_bytes(msg.read_bytes())
    files = sorted(str(p) for p in folder.glob("*.eml"))
    proc = _run(["process", "--json", "--jobs", "2", *files], tmp_path / "data")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {line["source"] for line in lines} == set(files)
    errors = {Path(line["source"]).name: line["error"] for line in lines if "error" in line}
    assert all("no readable text" in reason for reason in errors.values()), errors
    assert proc.returncode == (1 if errors else 0)
    body = next(line for line in lines if line["source"].endswith("msg_35.eml"))
    assert "there's no separating newline here" in body["text"]
