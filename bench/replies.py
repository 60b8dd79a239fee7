"""Printed replies: how long one letter takes to render as PDF/A, and the daily post batch of many letters.

    .venv/bin/python -m bench.replies                      # 50 letters timed one by one, then a batch of 300
    .venv/bin/python -m bench.replies --count 200 --letters 1000

Everything runs in this one process, pinned to one core. The letters are made up: Polish, Czech, Russian and
English, 2–14 paragraphs (one or two pages), every third one registered, some with attachments listed. First
``--count`` letters are rendered (``replies.pdf.render_letter``) and each render is timed: p50, p95 and max
(the first render, which loads fonts and parses the stylesheet, is reported apart and left out). Then a batch
of ``--letters`` letters: each rendered (the render part), then ``replies.batch.build_batch`` joins them for
duplex printing and renders the posting list (the batch part). Then the service path (``--no-service``
skips it): the same number of replies drafted and sent by post through the HTTP API by an agent, each send
timed (the PDF is rendered and stored then), and ``mailroom post batch`` as typed. Targets: render p95 ≤ 0.5 s,
300 letters ≤ 120 s in all. Prints, last, one line: ``bench replies: render_p95_s=… render_max_s=…
batch_letters=… batch_s=… batch_total_s=… api_send_p95_s=… cli_batch_s=…``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import pikepdf

from replies.batch import BatchLetter, build_batch
from replies.letter import Attachment, LetterContent, PostalAddress, Sender
from replies.pdf import render_letter

SENDERS = {
    "pl": Sender("Telewave S.A. — Dział Reklamacji", PostalAddress(("ul. Prosta 1", "00-001 Warszawa")),
                 "Telewave S.A., ul. Prosta 1, 00-001 Warszawa", "reklamacje@telewave.example", "+48 22 123 45 67",
                 "www.telewave.example"),
    "cs": Sender("Telewave a.s. — Oddělení reklamací", PostalAddress(("Vodičkova 12", "110 00 Praha 1")),
                 "Telewave a.s., Vodičkova 12, 110 00 Praha 1", "reklamace@telewave.example", "+420 221 000 111"),
    "ru": Sender("АО «Телевейв» — отдел претензий", PostalAddress(("ул. Тверская, д. 7", "125009 Москва")),
                 "АО «Телевейв», ул. Тверская, д. 7, Москва, 125009", "pretenzii@telewave.example"),
    "en": Sender("Telewave Ltd — Customer Relations", PostalAddress(("1 King Street", "London EC2V 8AU")),
                 "Telewave Ltd, 1 King Street, London EC2V 8AU", "care@telewave.example", "+44 20 7000 0000"),
}
PLACES = {"pl": "Warszawa", "cs": "Praha", "ru": "Москва", "en": "London"}
RECIPIENTS = {
    "pl": [("Pani Zofia Źdźbło-Łęcka", "ul. Żółkiewskiego 12 m. 4", "31-000 Kraków"),
           ("Pan Grzegorz Brzęczyszczykiewicz", "os. Tysiąclecia 45/17", "40-871 Katowice"),
           ("Spółdzielnia Mieszkaniowa „Przyszłość”", "ul. Długa 8", "80-827 Gdańsk")],
    "cs": [("Paní Růžena Dvořáková", "Příčná 5", "110 00 Praha 1"),
           ("Pan Jiří Šťastný", "Náměstí Svobody 17", "602 00 Brno")],
    "ru": [("Иванову Ивану Ивановичу", "ул. Лесная, д. 5, кв. 12", "Москва", "125047"),
           ("ООО «Северный ветер»", "пр. Невский, д. 28", "Санкт-Петербург", "191186")],
    "en": [("Mr John Smith", "12 High Street", "Leeds LS1 1AA", "United Kingdom"),
           ("Ms Jane O'Neill", "Flat 3, 45 Park Road", "Bristol BS1 5TR", "United Kingdom")],
}
TEXT = {
    "pl": ("Szanowni Państwo,", "Z poważaniem", "Odpowiedź na reklamację", [
        "W odpowiedzi na reklamację z dnia 2 grudnia 2026 r. uprzejmie informujemy, że po analizie bilingów "
        "uznaliśmy ją za zasadną.",
        "Kwota 123,45 zł zostanie zwrócona na rachunek wskazany w piśmie w ciągu 14 dni.\nJednocześnie korygujemy "
        "fakturę nr FV/2026/11/0042.",
        "Zgodnie z regulaminem świadczenia usług przysługuje Państwu prawo wniesienia odwołania w terminie 30 dni "
        "od doręczenia niniejszej odpowiedzi; odwołanie można złożyć pisemnie lub w salonie.",
        "Przepraszamy za niedogodności związane z przerwą w działaniu usługi i dziękujemy za cierpliwość."]),
    "cs": ("Vážená paní, vážený pane,", "S pozdravem", "Odpověď na reklamaci", [
        "děkujeme za Vaši reklamaci ze dne 2. prosince 2026, kterou jsme pečlivě prošetřili.",
        "Částku 412,50 Kč Vám vrátíme na účet uvedený v reklamaci do 14 dnů.\nFakturu č. 2026110042 opravíme.",
        "Pokud s vyřízením nesouhlasíte, můžete se obrátit na Český telekomunikační úřad do jednoho měsíce ode dne "
        "doručení této odpovědi.",
        "Omlouváme se za potíže způsobené přerušením služby a děkujeme za trpělivost."]),
    "ru": ("Уважаемый клиент!", "С уважением", "Ответ на претензию", [
        "Благодарим вас за обращение от 2 декабря 2026 г. По результатам проверки ваша претензия признана "
        "обоснованной.",
        "Сумма 1 250,00 руб. будет возвращена на ваш лицевой счёт в течение 10 рабочих дней.\nСчёт № 2026-11-0042 "
        "будет скорректирован.",
        "В случае несогласия с ответом вы вправе обратиться в Роскомнадзор или в суд в установленном законом "
        "порядке.",
        "Приносим извинения за доставленные неудобства и благодарим за терпение."]),
    "en": ("Dear customer,", "Yours faithfully", "Your complaint", [
        "Thank you for your letter of 2 December 2026. We have looked into your complaint and upheld it.",
        "We will refund £23.45 to your account within 14 days.\nInvoice 2026-11-0042 will be corrected.",
        "If you are not satisfied with this answer you may refer your complaint to the Ombudsman within six months "
        "of the date of this letter.",
        "We apologise for the interruption of your service and thank you for your patience."]),
}


def make_letter(rng: random.Random, number: int) -> LetterContent:
    """A made-up reply: language in turn, 2–14 paragraphs (one or two pages)."""
    language = ("pl", "cs", "ru", "en")[number % 4]
    greeting, closing, subject, pool = TEXT[language]
    paragraphs = [rng.choice(pool) for _ in range(rng.randint(2, 14))]
    attachments = tuple(Attachment(f"zalacznik-{i}.pdf", "application/pdf", b"") for i in range(rng.randint(0, 2)))
    return LetterContent(
        language=language, sender=SENDERS[language], recipient=PostalAddress(rng.choice(RECIPIENTS[language])),
        reference=f"MR-C-{number:06d}", letter_date=date(2026, 12, 7), place=PLACES[language],
        subject=subject, body="\n\n".join([greeting, *paragraphs, closing]),
        signature=("Anna Kowalska", "Customer care"), their_reference=f"{rng.randint(100, 999)}/2026",
        registered=number % 3 == 0, attachments=attachments)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def page_count(pdf: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=50, help="letters rendered and timed one by one (default 50)")
    ap.add_argument("--letters", type=int, default=300, help="letters in the post batch (default 300)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-service", action="store_true",
                    help="skip the service path (HTTP API sends, then `mailroom post batch` as typed)")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rng = random.Random(args.seed)

    started = time.perf_counter()
    render_letter(make_letter(rng, 0))
    first = time.perf_counter() - started
    times: list[float] = []
    pages: list[int] = []
    for number in range(1, args.count + 1):
        content = make_letter(rng, number)
        started = time.perf_counter()
        pdf = render_letter(content)
        times.append(time.perf_counter() - started)
        pages.append(page_count(pdf))
    p50, p95, worst = statistics.median(times), percentile(times, 0.95), max(times)
    print(f"render: {args.count} letters ({pages.count(1)} of 1 page, {pages.count(2)} of 2, "
          f"{sum(1 for p in pages if p > 2)} longer): p50 {p50:.3f} s, p95 {p95:.3f} s, max {worst:.3f} s "
          f"(first render in the process {first:.3f} s, not counted)")

    started = time.perf_counter()
    batch_letters = []
    for number in range(1, args.letters + 1):
        content = make_letter(rng, number)
        registered_number = f"RR{number:09d}PL" if content.registered and number % 2 else None
        batch_letters.append(BatchLetter(reference=content.reference, pdf=render_letter(content),
                                         recipient=content.recipient, registered=content.registered,
                                         registered_number=registered_number))
    render_s = time.perf_counter() - started
    started = time.perf_counter()
    batch = build_batch(batch_letters, language="pl", batch_date=date(2026, 12, 7), title="Poczta 7.12.2026",
                        sender=SENDERS["pl"])
    batch_s = time.perf_counter() - started
    listing_pages = page_count(batch.posting_list_pdf)
    print(f"batch: {args.letters} letters rendered in {render_s:.1f} s, joined with the posting list in "
          f"{batch_s:.1f} s: {batch.pages} pages ({batch.blank_pages} blank), {batch.sheets} sheets, "
          f"print file {len(batch.print_pdf) / 1e6:.1f} MB; posting list {batch.registered} letters on "
          f"{listing_pages} pages, {len(batch.posting_list_pdf) / 1e3:.0f} kB")
    tail = ""
    if not args.no_service:
        send_p95, cli_s = service_path(args.letters)
        tail = f" api_send_p95_s={send_p95:.3f} cli_batch_s={cli_s:.1f}"
    print(f"bench replies: render_p95_s={p95:.3f} render_max_s={worst:.3f} batch_letters={args.letters} "
          f"batch_s={batch_s:.2f} batch_total_s={render_s + batch_s:.1f}{tail}")
    return 0


def service_path(letters: int) -> tuple[float, float]:
    """The path users take, with the settings we ship (SQLite in WAL, synchronous=FULL; the file blob store):
    ``letters`` complaints waiting in a queue; an agent (API token) claims each, drafts the reply from the
    template (``POST /api/work-items/{id}/replies``), sends it by post (``POST /api/replies/{id}/send``: the
    PDF is rendered and stored then; each send timed) and completes the item; then ``mailroom post batch`` as
    typed builds the day's batch from the stored PDFs. Returns (p95 of a send, the command's wall time), seconds."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from bench.claim_db import populate
    from ground.settings import Settings
    from pipeline.context import Context
    from storage.db import get_engine, migrate, session_scope
    from storage.models import QueueMember, Role, User, WorkItem
    from storage.users import create_token, upsert_user
    from web.app import create_app

    with tempfile.TemporaryDirectory(prefix="bench-replies-", dir="/var/tmp") as tmp:
        data = Path(tmp) / "data"
        settings = Settings(data=data, secret_key="bench-replies-" + "x" * 40)
        data.mkdir(parents=True)
        migrate(settings.db_url)
        populate(get_engine(settings.db_url), letters, at=datetime.now(UTC) - timedelta(days=1))
        with session_scope(settings.db_url) as s:
            upsert_user(s, "anna", "bench-password-1", Role.AGENT, "Anna Kowalska")
            user_id = s.scalars(select(User.id).where(User.username == "anna")).one()
            for queue in sorted(set(s.scalars(select(WorkItem.queue)))):
                s.add(QueueMember(user_id=user_id, queue=queue))
            token = create_token(s, "anna", "bench", datetime.now(UTC))[1]
            ids = list(s.scalars(select(WorkItem.id).order_by(WorkItem.id)))
        client = TestClient(create_app(Context(settings)))
        auth = {"Authorization": f"Bearer {token}"}
        sends: list[float] = []
        for item_id in ids:
            assert client.post(f"/api/work-items/{item_id}/claim", headers=auth).status_code == 200
            r = client.post(f"/api/work-items/{item_id}/replies", headers=auth, json={
                "channel": "post", "address": ["Jan Kowalski", "ul. Długa 5", "00-950 Warszawa"],
                "fields": {"decision": "accepted", "employee_position": "Specjalista ds. reklamacji"}})
            assert r.status_code == 201, r.text
            started = time.perf_counter()
            sent = client.post(f"/api/replies/{r.json()['id']}/send", headers=auth, json={})
            sends.append(time.perf_counter() - started)
            assert sent.status_code == 200 and sent.json()["state"] == "queued", sent.text
            done_item = client.post(f"/api/work-items/{item_id}/complete", headers=auth, json={"outcome": "answered"})
            assert done_item.status_code == 200, done_item.text  # the agent moves on (capacity)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mailroom.cli", "post", "batch", "--out", str(Path(tmp) / "out")],
                              env={**os.environ, "MAILROOM_DATA": str(data)}, capture_output=True, text=True,
                              timeout=1800)
        cli_s = time.perf_counter() - started
        assert done.returncode == 0, done.stderr[-2000:]
        (printed,) = (Path(tmp) / "out").glob("batch-*-print.pdf")
        print(f"service: {letters} replies sent by post through the HTTP API, send p50 "
              f"{statistics.median(sends):.3f} s, p95 {percentile(sends, 0.95):.3f} s; `mailroom post batch` "
              f"{cli_s:.1f} s, {page_count(printed.read_bytes())} pages to print")
        return percentile(sends, 0.95), cli_s


if __name__ == "__main__":
    raise SystemExit(main())
