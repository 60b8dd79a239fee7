"""Mailroom corrections (issue 18): re-split a routed batch, rotate, reorder or drop pages, re-read a page;
and the batch check (pages scanned, letters found, letters expected).

A correction never alters the original: the envelope's bytes stay as received. It is a new *derived version* of
the envelope's letters, ``Envelope.corrections`` counting them: each new letter is a new document whose part is
a PDF of exactly its pages (rotated as asked; a PDF's own pages copied by pikepdf, an image's pages drawn as
PDF pages), with ``derived`` naming the correction and the original page of each of its pages. The letters it
replaces are kept, marked ``superseded_by`` the correction; their open work items are closed visibly (state
done, outcome ``superseded_by_correction``, their clocks handed over to the new letters); the new letters are
routed by the pipeline's own stage (pipeline.runner.run_route: classified, routed, timed, acknowledged).

A letter whose pages do not change keeps its document and work item. A letter that changes while its work item
is claimed, on hold or completed by an agent is refused (Conflict, naming the item and what to do): an agent's
work is never reopened nor taken from under them.

Pages are named by their number in the original file (1-based), whatever earlier corrections did, and each
rotation is counted from the original page (clockwise, 0/90/180/270). A page's text is taken from the current
letters when it is known at the same rotation; a rotated page, a page marked for re-reading, or a page in no
letter before (a blank page, a separator sheet, a page dropped earlier) is read again from the original (OCR of
the page drawn and turned as asked).

Plain functions over typed records: :func:`parse_layout`, :func:`format_layout` and :func:`plan` touch nothing;
:func:`correct` reads the pages it must (blocking: callers run it in a worker thread), then commits in one write
transaction with a compare-and-set on the version the person saw.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pikepdf
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

import ocr
from ground.errors import Conflict, InvalidRequest, MailroomError, NotFound
from ground.i18n import N_
from ground.records import OcrResult, PageText
from ground.settings import Settings
from intake.parts import is_email
from ocr.pages import PDFIUM_LOCK, PageImage, iter_image_pages, open_pdf, render_pdf_page
from ocr.render import part_type, render_page_png
from ocr.sniff import PDF
from pipeline.context import Context
from pipeline.runner import DOC_NAMESPACE, run_route
from queues.work import OPEN, transition
from storage.audit import record
from storage.db import begin_write, session_scope
from storage.models import AuditEvent, Document, DocumentState, Envelope, EnvelopeState, WorkItem, WorkItemState
from storage.search import index_documents

SUPERSEDED = "superseded_by_correction"  # the outcome of a work item whose letter a correction replaced
ROTATIONS = (0, 90, 180, 270)
MAX_REREAD = 20  # pages read again by one correction (OCR in the caller's thread)
SEPARATOR = "\n\f\n"  # how a document's text joins its pages (ground.records.OcrResult.text)
# Outcomes that the system set by itself: such an item was not completed by an agent.
SYSTEM_OUTCOMES = frozenset({"duplicate_of_case", SUPERSEDED})


# ---------------------------------------------------------------- errors a person reads


def refusal(kind: type[MailroomError], template: str, **params: Any) -> MailroomError:
    """A typed error whose reason is ``template % params``; pages translate ``template`` (its msgid)."""
    exc = kind(template % {k: str(v).replace("_", " ") if k == "state" else v for k, v in params.items()})
    exc.template, exc.params = template, params  # type: ignore[attr-defined]
    return exc


NOT_CORRECTABLE_EMAIL = N_("An e-mail is one letter with its attachments; only scans, faxes and uploaded files "
                           "can be re-split.")
NOT_CORRECTABLE_STATE = N_("This batch is %(state)s; it can be corrected once all its letters are routed.")
PURGED = N_("The original of this batch was deleted by retention; it cannot be corrected.")
STALE = N_("The batch was corrected meanwhile (version %(now)d, you saw %(seen)d); reload the page and correct it "
           "again.")
NO_LETTER = N_("A correction must keep at least one letter; to set a batch aside, ask a supervisor.")
EMPTY_LETTER = N_("Letter %(num)d has no page; remove the split point or add a page to it.")
BAD_PAGE = N_("There is no page %(page)d in this batch (it has %(total)d pages).")
TWICE = N_("Page %(page)d is in the correction twice; each page belongs to one letter at most.")
BAD_ROTATION = N_("Page %(page)d: a page turns by 0, 90, 180 or 270 degrees.")
TOO_MANY_REREADS = N_("At most %(num)d pages can be read again at once; correct the batch in steps.")
BAD_LAYOUT = N_("The page layout %(layout)s cannot be read; reload the page.")
ITEM_COMPLETED = N_("Letter %(num)d (work item %(item)d) was already completed by %(agent)s; a completed item is "
                    "not reopened, so its pages must stay as they are.")
ITEM_IN_WORK = N_("Letter %(num)d (work item %(item)d) is %(state)s by %(agent)s; ask them to release it, then "
                  "correct the batch.")
UNCHANGED = N_("Nothing changes: the letters are already as shown.")
BAD_EXPECTED = N_("The expected number of letters is a whole number from 1 to %(max)d, or empty.")
NOT_FOUND = N_("This batch does not exist.")
MAX_EXPECTED = 10_000
# Every refusal above: web/pages/corrections.py repeats them for the catalogs (gettext reads web/, not pipeline/).
REASONS = (NOT_CORRECTABLE_EMAIL, NOT_CORRECTABLE_STATE, PURGED, STALE, NO_LETTER, EMPTY_LETTER, BAD_PAGE, TWICE,
           BAD_ROTATION, TOO_MANY_REREADS, BAD_LAYOUT, ITEM_COMPLETED, ITEM_IN_WORK, UNCHANGED, BAD_EXPECTED,
           NOT_FOUND)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class PageRef:
    """A page of the original file (1-based), turned clockwise by ``rotate`` degrees; ``reread``: read it again."""

    page: int
    rotate: int = 0
    reread: bool = False


@dataclass(frozen=True)
class Layout:
    """The envelope's letters, each an ordered list of pages; a page in no letter is dropped."""

    letters: tuple[tuple[PageRef, ...], ...]

    def pages(self) -> list[PageRef]:
        return [p for letter in self.letters for p in letter]


@dataclass
class KnownPage:
    text: str
    method: str
    flags: list[str] = field(default_factory=list)
    blank: bool = False


@dataclass
class Current:
    """What an envelope's letters are now: its layout, version, and the documents behind each letter."""

    envelope_id: str
    version: int
    total_pages: int
    layout: Layout
    documents: list[str]  # the document id of each letter of ``layout``
    known: dict[tuple[int, int], KnownPage]  # (page, rotation) → its text, where it is known


@dataclass
class Plan:
    """What a correction does: letters kept as they are (by document id), letters replaced, letters made."""

    keep: dict[int, str]  # index of a new letter → the current document it is
    supersede: list[str]  # current documents replaced
    make: list[int]  # indices of new letters to make
    read: list[PageRef]  # pages to read again (unique by page and rotation)


@dataclass
class Corrected:
    envelope_id: str
    version: int
    kept: list[str]
    superseded: list[str]
    created: list[str]
    work_items: dict[str, int | None]  # new document → its work item


@dataclass
class BatchCheck:
    """Pages scanned versus letters found, and the letters the station said were in it."""

    pages_scanned: int | None
    letters_found: int
    letters_expected: int | None
    pages_in_letters: int
    corrections: int

    @property
    def differs(self) -> bool:
        return self.letters_expected is not None and self.letters_expected != self.letters_found


# ---------------------------------------------------------------- the layout as text (forms, URLs, the CLI)

_TOKEN = re.compile(r"^(\d{1,6})(?:r(\d{1,3}))?(x?)$")


def format_layout(layout: Layout) -> str:
    """``1,2|3r90x,4``: letters by ``|``, pages by ``,``; ``rN`` a rotation, ``x`` read it again."""
    return "|".join(",".join(f"{p.page}{f'r{p.rotate}' if p.rotate else ''}{'x' if p.reread else ''}"
                             for p in letter) for letter in layout.letters)


def parse_layout(text: str) -> Layout:
    """The reverse of :func:`format_layout`; empty letters are kept (:func:`validate` names them)."""
    text = text.strip()
    if len(text) > 20_000:
        raise refusal(InvalidRequest, BAD_LAYOUT, layout=text[:40] + "…")
    letters = []
    for chunk in text.split("|") if text else []:
        refs = []
        for token in filter(None, (t.strip() for t in chunk.split(","))):
            m = _TOKEN.match(token)
            if m is None:
                raise refusal(InvalidRequest, BAD_LAYOUT, layout=token[:40])
            refs.append(PageRef(int(m.group(1)), int(m.group(2) or 0), bool(m.group(3))))
        letters.append(tuple(refs))
    return Layout(tuple(letters))


def validate(layout: Layout, total_pages: int) -> None:
    """Raise InvalidRequest naming the first problem of ``layout`` for a file of ``total_pages`` pages."""
    if not layout.letters:
        raise refusal(InvalidRequest, NO_LETTER)
    seen: set[int] = set()
    for num, letter in enumerate(layout.letters, 1):
        if not letter:
            raise refusal(InvalidRequest, EMPTY_LETTER, num=num)
        for p in letter:
            if not 1 <= p.page <= total_pages:
                raise refusal(InvalidRequest, BAD_PAGE, page=p.page, total=total_pages)
            if p.page in seen:
                raise refusal(InvalidRequest, TWICE, page=p.page)
            if p.rotate not in ROTATIONS:
                raise refusal(InvalidRequest, BAD_ROTATION, page=p.page)
            seen.add(p.page)


# ---------------------------------------------------------------- editing a draft layout (the correction page)


def _letters(layout: Layout) -> list[list[PageRef]]:
    return [list(letter) for letter in layout.letters]


def _frozen(letters: list[list[PageRef]]) -> Layout:
    return Layout(tuple(tuple(letter) for letter in letters if letter))


def _where(letters: list[list[PageRef]], page: int) -> tuple[int, int] | None:
    for i, letter in enumerate(letters):
        for j, p in enumerate(letter):
            if p.page == page:
                return i, j
    return None


def edit(layout: Layout, op: str, page: int) -> Layout:
    """One change of a draft: ``left``/``right`` turn the page by 90 degrees, ``earlier``/``later`` move it by
    one place (across a letter's edge: to the neighbouring letter), ``split`` starts a new letter with it,
    ``join`` joins its letter to the one before, ``drop`` takes it out, ``restore`` puts a page of no letter
    back as a letter of its own, ``reread`` marks it to be read again (or unmarks it). Unknown: unchanged."""
    letters = _letters(layout)
    at = _where(letters, page)
    if op == "restore":
        return layout if at is not None else _frozen([*letters, [PageRef(page)]])
    if at is None:
        return layout
    i, j = at
    p = letters[i][j]
    if op in ("left", "right"):
        letters[i][j] = PageRef(p.page, (p.rotate + (90 if op == "right" else 270)) % 360, p.reread)
    elif op == "reread":
        letters[i][j] = PageRef(p.page, p.rotate, not p.reread)
    elif op == "drop":
        del letters[i][j]
    elif op == "split" and j > 0:
        letters[i:i + 1] = [letters[i][:j], letters[i][j:]]
    elif op == "join" and j == 0 and i > 0:
        letters[i - 1:i + 1] = [letters[i - 1] + letters[i]]
    elif op == "earlier":
        if j > 0:
            letters[i][j - 1], letters[i][j] = letters[i][j], letters[i][j - 1]
        elif i > 0:
            letters[i - 1].append(letters[i].pop(0))
    elif op == "later":
        if j < len(letters[i]) - 1:
            letters[i][j + 1], letters[i][j] = letters[i][j], letters[i][j + 1]
        elif i < len(letters) - 1:
            letters[i + 1].insert(0, letters[i].pop())
    return _frozen(letters)


EDITS = ("left", "right", "earlier", "later", "split", "join", "drop", "restore", "reread")


def plan(current: Current, layout: Layout) -> Plan:
    """Which letters stay, which are replaced and which are made; which pages must be read again."""
    validate(layout, current.total_pages)
    now = {_shape(letter): doc for letter, doc in zip(current.layout.letters, current.documents, strict=True)}
    keep: dict[int, str] = {}
    for i, letter in enumerate(layout.letters):
        doc = now.get(_shape(letter))
        if doc is not None and not any(p.reread for p in letter) and doc not in keep.values():
            keep[i] = doc
    make = [i for i in range(len(layout.letters)) if i not in keep]
    supersede = [doc for doc in current.documents if doc not in keep.values()]
    if not make and not supersede:
        raise refusal(InvalidRequest, UNCHANGED)
    read: dict[tuple[int, int], PageRef] = {}
    for i in make:
        for p in layout.letters[i]:
            if p.reread or (p.page, p.rotate) not in current.known:
                read[(p.page, p.rotate)] = PageRef(p.page, p.rotate, True)
    if len(read) > MAX_REREAD:
        raise refusal(InvalidRequest, TOO_MANY_REREADS, num=MAX_REREAD)
    return Plan(keep=keep, supersede=supersede, make=make, read=list(read.values()))


def _shape(letter: Iterable[PageRef]) -> tuple[tuple[int, int], ...]:
    return tuple((p.page, p.rotate) for p in letter)


# ---------------------------------------------------------------- pages: drawn, turned, read, made into a PDF


def page_image(data: bytes, ctype: str, number: int, settings: Settings) -> PageImage:
    """Page ``number`` (1-based) of a PDF or image part, drawn at the OCR resolution."""
    if ctype == PDF:
        with PDFIUM_LOCK:
            pdf = open_pdf(data, settings)
            try:
                return render_pdf_page(pdf, number - 1, settings)
            finally:
                pdf.close()
    page = next(iter_image_pages(data, settings, range(number - 1, number)), None)
    if page is None:
        raise refusal(InvalidRequest, BAD_PAGE, page=number, total=number - 1)
    return page


def turned(image: Image.Image, rotate: int) -> Image.Image:
    """``image`` turned clockwise by ``rotate`` degrees (PIL turns counter-clockwise)."""
    return image.rotate(-rotate, expand=True) if rotate % 360 else image


def read_page(data: bytes, ctype: str, ref: PageRef, settings: Settings) -> KnownPage:
    """Read one page of the original again: drawn, turned as asked, then the OCR stage (ocr.extract) on it."""
    page = page_image(data, ctype, ref.page, settings)
    buf = io.BytesIO()
    turned(page.image, ref.rotate).save(buf, format="PNG", dpi=(page.dpi, page.dpi))
    result = ocr.extract(buf.getvalue(), "image/png", settings=settings, workers=1)
    if not result.pages:
        return KnownPage(text="", method="ocr", blank=True)
    got = result.pages[0]
    return KnownPage(text=got.text, method=got.method, flags=[*got.flags, "reread"], blank=got.blank)


def derived_pdf(data: bytes, ctype: str, refs: Sequence[PageRef], settings: Settings) -> bytes:
    """A PDF of exactly ``refs``, in order and turned: a PDF's pages copied as they are (text layer and all),
    an image's pages drawn one at a time (a long fax never held whole in memory)."""
    out = pikepdf.new()
    if ctype == PDF:
        with pikepdf.open(io.BytesIO(data)) as src:
            for ref in refs:
                out.pages.append(src.pages[ref.page - 1])
                if ref.rotate:
                    out.pages[-1].rotate(ref.rotate, relative=True)
            return _saved(out)
    for ref in refs:
        page = page_image(data, ctype, ref.page, settings)
        one = io.BytesIO()
        turned(page.image, ref.rotate).save(one, format="PDF", resolution=page.dpi)
        with pikepdf.open(io.BytesIO(one.getvalue())) as single:
            out.pages.extend(single.pages)
    return _saved(out)


def _saved(pdf: pikepdf.Pdf) -> bytes:
    buf = io.BytesIO()
    pdf.save(buf, deterministic_id=True)
    pdf.close()
    return buf.getvalue()


def thumbnail(data: bytes, ctype: str, number: int, settings: Settings, width: int = 260) -> bytes | None:
    """Page ``number`` of the original as a small PNG for the correction page (ocr.render's drawing)."""
    png = render_page_png(data, ctype, number, settings)
    if png is None:
        return None
    with Image.open(io.BytesIO(png)) as image:
        image.thumbnail((width, width * 2))
        buf = io.BytesIO()
        image.save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- what the envelope is now


def _envelope(session: Session, envelope_id: str) -> Envelope:
    env = session.get(Envelope, envelope_id) if len(envelope_id) <= 64 else None
    if env is None:
        raise refusal(NotFound, NOT_FOUND)
    return env


def current_documents(env: Envelope) -> list[Document]:
    """The envelope's letters in force (not superseded), in their order."""
    return sorted((d for d in env.documents if d.superseded_by is None), key=lambda d: (d.part_index, d.doc_index))


def original_part(ctx: Context, env: Envelope) -> tuple[bytes, str]:
    """The bytes of the envelope's one part (its original file) and their type."""
    docs = sorted(env.documents, key=lambda d: (d.part_index, d.doc_index))
    first = next((d for d in docs if d.derived is None), None)
    data = ctx.blobs.get(first.part_sha256) if first is not None else ctx.blobs.get(env.sha256)
    return data, part_type(data, first.part_name if first is not None else env.source_name)


def _check_correctable(env: Envelope) -> None:
    if is_email(env.content_type):
        raise refusal(Conflict, NOT_CORRECTABLE_EMAIL)
    if env.purged_at is not None:
        raise refusal(Conflict, PURGED)
    if env.state != EnvelopeState.PROCESSED or any(d.state != DocumentState.ROUTED for d in current_documents(env)):
        raise refusal(Conflict, NOT_CORRECTABLE_STATE, state=env.state)


def _pages_of(doc: Document) -> list[tuple[PageRef, dict[str, Any]]]:
    """A document's pages as references to the original, with their page flags."""
    if doc.derived:
        return [(PageRef(int(p["page"]), int(p.get("rotate", 0))), p) for p in doc.derived.get("pages", [])]
    return [(PageRef(int(p["page"])), p) for p in doc.page_flags or [] if isinstance(p, dict) and "page" in p]


def current(ctx: Context, session: Session, envelope_id: str, total_pages: int | None = None) -> Current:
    """The envelope's letters now, as a layout over the original's pages, and the page texts known."""
    env = _envelope(session, envelope_id)
    if is_email(env.content_type):
        raise refusal(Conflict, NOT_CORRECTABLE_EMAIL)
    docs = current_documents(env)
    letters: list[tuple[PageRef, ...]] = []
    known: dict[tuple[int, int], KnownPage] = {}
    for doc in docs:
        pages = _pages_of(doc)
        letters.append(tuple(ref for ref, _ in pages))
        inked = [(ref, flags) for ref, flags in pages if not flags.get("blank")]
        texts = (doc.text or "").split(SEPARATOR) if doc.text else []
        if len(texts) != len(inked):
            continue  # the text cannot be told apart page by page: those pages are read again if they change
        for (ref, flags), text in zip(inked, texts, strict=True):
            known[(ref.page, ref.rotate)] = KnownPage(text=text, method=str(flags.get("method", "")),
                                                      flags=list(flags.get("flags") or []))
        for ref, flags in pages:
            if flags.get("blank"):
                known[(ref.page, ref.rotate)] = KnownPage("", str(flags.get("method", "")), [], blank=True)
    if total_pages is None:
        total_pages = int((env.meta or {}).get("pages_received") or 0) or max(
            (p.page for letter in letters for p in letter), default=0)
    return Current(envelope_id=env.id, version=env.corrections or 0, total_pages=total_pages,
                   layout=Layout(tuple(letters)), documents=[d.id for d in docs], known=known)


def page_total(ctx: Context, env: Envelope, part: tuple[bytes, str] | None = None) -> int:
    """Pages in the original file (its page count, read without decoding any page); ``part``: its bytes and
    type when the caller has them."""
    data, ctype = part or original_part(ctx, env)
    if ctype == PDF or ctype.startswith("image/"):
        try:
            return ocr.page_count(data, ctype, ctx.settings)
        except MailroomError:
            pass
    return int((env.meta or {}).get("pages_received") or 1)


# ---------------------------------------------------------------- the correction


def correct(ctx: Context, envelope_id: str, layout: Layout, actor: str, *, seen_version: int,
            now: datetime | None = None) -> Corrected:
    """Make ``layout`` the envelope's letters: a new derived version, audited; the new letters are routed.

    ``seen_version``: the version the person corrected (Envelope.corrections); another correction in between
    is a Conflict. Blocking (reads pages again, classifies): run it in a worker thread, never on the event loop."""
    now = now or datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        env = _envelope(s, envelope_id)
        _check_correctable(env)
        if (env.corrections or 0) != seen_version:
            raise refusal(Conflict, STALE, now=env.corrections or 0, seen=seen_version)
        data, ctype = original_part(ctx, env)
        total = page_total(ctx, env, (data, ctype))
        now_letters = current(ctx, s, envelope_id, total)
        todo = plan(now_letters, layout)
        _check_items(s, now_letters, todo)
        part_index = min((d.part_index for d in env.documents), default=0)
        next_index = max((d.doc_index for d in env.documents), default=-1) + 1
        sha, name = env.sha256, env.source_name
    read = {(r.page, r.rotate): read_page(data, ctype, r, ctx.settings) for r in todo.read}  # outside any transaction
    known = {**now_letters.known, **read}
    made: list[tuple[int, list[PageRef], bytes]] = [
        (i, list(layout.letters[i]), derived_pdf(data, ctype, layout.letters[i], ctx.settings)) for i in todo.make]
    correction_id = str(uuid.uuid4())
    with session_scope(ctx.db_url) as s:
        begin_write(s)
        env = _envelope(s, envelope_id)
        _check_correctable(env)
        if (env.corrections or 0) != seen_version:
            raise refusal(Conflict, STALE, now=env.corrections or 0, seen=seen_version)
        _check_items(s, now_letters, todo)  # again, under the write lock: an agent may have claimed one since
        version = seen_version + 1
        env.corrections = version
        created: list[str] = []
        for offset, (i, refs, pdf) in enumerate(made):
            doc_index = next_index + offset
            doc_id = str(uuid.uuid5(DOC_NAMESPACE, f"{sha}:{part_index}:{doc_index}:correction:{version}"))
            pages = [(r, known[(r.page, r.rotate)]) for r in refs]
            result = OcrResult(pages=[PageText(number=n, text=k.text, method=k.method, blank=k.blank,
                                               flags=list(k.flags)) for n, (_, k) in enumerate(pages, 1)])
            stem = name.rsplit(".", 1)[0][:400]
            s.add(Document(
                id=doc_id, envelope_id=envelope_id, part_index=part_index, doc_index=doc_index,
                part_name=f"{stem} – {i + 1}.pdf", part_sha256=ctx.blobs.put(pdf), first_page=1,
                pages=result.page_count, blank_pages=sum(k.blank for _, k in pages),
                page_flags=[{"page": n, "method": k.method, "flags": k.flags} for n, (_, k) in enumerate(pages, 1)
                            if not k.blank],
                text=result.text, state=DocumentState.READ, created_at=now,
                derived={"correction": correction_id, "version": version, "letter": i + 1,
                         "pages": [{"page": r.page, "rotate": r.rotate, "method": k.method, "flags": k.flags,
                                    **({"blank": True} if k.blank else {})} for r, k in pages]}))
            created.append(doc_id)
        s.flush()
        superseded = _supersede(s, todo.supersede, correction_id, version, created, actor, now)
        kept = [todo.keep[i] for i in sorted(todo.keep)]
        for doc_id, (i, refs, _) in zip(created, made, strict=True):
            record(s, actor, "document.derived", envelope_id=envelope_id, document_id=doc_id,
                   detail={"correction": correction_id, "version": version, "letter": i + 1,
                           "pages": [_ref_detail(r) for r in refs], "replaces": superseded})
        for ref in todo.read:
            record(s, actor, "document.page_reread", envelope_id=envelope_id,
                   detail={"correction": correction_id, "page": ref.page, "rotate": ref.rotate,
                           "method": read[(ref.page, ref.rotate)].method})
        record(s, actor, "envelope.corrected", envelope_id=envelope_id,
               detail={"correction": correction_id, "version": version, "layout": format_layout(layout),
                       "before": format_layout(now_letters.layout), "letters": len(layout.letters),
                       "kept": kept, "superseded": superseded, "created": created,
                       "dropped": sorted(set(range(1, total + 1)) - {p.page for p in layout.pages()}),
                       "original_sha256": sha})
        index_documents(s, created)  # archive search finds the new letters at once
    items = {doc_id: run_route(ctx, doc_id) for doc_id in created}  # the pipeline's own routing stage
    return Corrected(envelope_id=envelope_id, version=version, kept=kept, superseded=superseded,
                     created=created, work_items=items)


def reread(ctx: Context, envelope_id: str, page: int, actor: str, *, seen_version: int,
           rotate: int | None = None) -> Corrected:
    """Read one page again (turned by ``rotate``, else as it is now), the letters otherwise as they are."""
    with session_scope(ctx.db_url) as s:
        env = _envelope(s, envelope_id)
        _check_correctable(env)
        now_letters = current(ctx, s, envelope_id, page_total(ctx, env))
    letters = []
    found = False
    for letter in now_letters.layout.letters:
        refs = []
        for p in letter:
            if p.page == page:
                p, found = PageRef(p.page, p.rotate if rotate is None else rotate, True), True
            refs.append(p)
        letters.append(tuple(refs))
    if not found:  # a page in no letter (blank, a separator sheet, dropped): read, it becomes a letter of its own
        letters.append((PageRef(page, rotate or 0, True),))
    return correct(ctx, envelope_id, Layout(tuple(letters)), actor, seen_version=seen_version)


def _ref_detail(ref: PageRef) -> dict[str, Any]:
    return {"page": ref.page, "rotate": ref.rotate, **({"reread": True} if ref.reread else {})}


def _check_items(session: Session, now_letters: Current, todo: Plan) -> None:
    """Refuse when a letter that would be replaced has an item an agent is working or has completed."""
    for num, doc_id in enumerate(now_letters.documents, 1):
        if doc_id not in todo.supersede:
            continue
        item = session.scalars(select(WorkItem).where(WorkItem.document_id == doc_id)).first()
        if item is None:
            continue
        if item.state == WorkItemState.DONE and item.outcome not in SYSTEM_OUTCOMES:
            raise refusal(Conflict, ITEM_COMPLETED, num=num, item=item.id, agent=_who_completed(session, item))
        if item.state in (WorkItemState.CLAIMED, WorkItemState.ON_HOLD):
            raise refusal(Conflict, ITEM_IN_WORK, num=num, item=item.id,
                          state=str(item.state), agent=item.assignee or "?")


def _who_completed(session: Session, item: WorkItem) -> str:
    actor = session.scalar(select(AuditEvent.actor).where(AuditEvent.work_item_id == item.id,
                                                          AuditEvent.action == "work_item.completed")
                           .order_by(AuditEvent.id.desc()).limit(1))
    return actor or item.assignee or "an agent"


def _supersede(session: Session, doc_ids: list[str], correction_id: str, version: int, created: list[str],
               actor: str, now: datetime) -> list[str]:
    """Mark the replaced letters and close their open items visibly (state done, outcome superseded, no clock
    left to run: the new letters carry the envelope's clocks from its receipt)."""
    for doc_id in doc_ids:
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.superseded_by, doc.superseded_at = correction_id, now
        item = doc.work_item
        record(session, actor, "document.superseded", envelope_id=doc.envelope_id, document_id=doc_id,
               work_item_id=item.id if item else None,
               detail={"correction": correction_id, "version": version, "by": created})
        if item is None:
            continue
        if item.state in OPEN:
            transition(session, item.id, OPEN, actor, "superseded", now,
                       detail={"correction": correction_id, "by_documents": created},
                       state=WorkItemState.DONE, outcome=SUPERSEDED, assignee=None, claimed_until=None,
                       statutory_due=None, statutory_warn_at=None, flags=sorted({*item.flags, SUPERSEDED}))
        else:  # closed by the system (a copy attached to a case): it stays closed, marked
            transition(session, item.id, (WorkItemState.DONE,), actor, "superseded", now,
                       detail={"correction": correction_id, "by_documents": created, "outcome": item.outcome},
                       flags=sorted({*item.flags, SUPERSEDED}))
    return list(doc_ids)


# ---------------------------------------------------------------- the batch check


def batch_check(session: Session, envelope_id: str) -> BatchCheck:
    env = _envelope(session, envelope_id)
    return check_of(env)


def check_of(env: Envelope) -> BatchCheck:
    docs = current_documents(env)
    in_letters = sum(len(d.derived.get("pages", [])) if d.derived else d.pages + (d.blank_pages or 0)
                     for d in docs)
    scanned = (env.meta or {}).get("pages_received")
    return BatchCheck(pages_scanned=int(scanned) if scanned is not None else None, letters_found=len(docs),
                      letters_expected=env.expected_letters, pages_in_letters=in_letters,
                      corrections=env.corrections or 0)


def parse_expected(value: str | int | None) -> int | None:
    """An expected letter count from a form or the API: empty means none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise refusal(InvalidRequest, BAD_EXPECTED, max=MAX_EXPECTED) from None
    if not 1 <= n <= MAX_EXPECTED:
        raise refusal(InvalidRequest, BAD_EXPECTED, max=MAX_EXPECTED)
    return n


def set_expected(session: Session, envelope_id: str, expected: int | None, actor: str) -> BatchCheck:
    """The station's count of letters in the batch (None: not known), audited."""
    env = _envelope(session, envelope_id)
    if expected is not None and not 1 <= expected <= MAX_EXPECTED:
        raise refusal(InvalidRequest, BAD_EXPECTED, max=MAX_EXPECTED)
    before = env.expected_letters
    env.expected_letters = expected
    record(session, actor, "envelope.expected_letters", envelope_id=env.id,
           detail={"from": before, "to": expected, "letters_found": len(current_documents(env))})
    session.flush()
    return check_of(env)
