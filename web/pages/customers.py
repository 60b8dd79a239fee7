"""The customer pages (issue 18): one customer's identifiers, contact channels and history across channels
(letters in and out, in time order, with links to their items and cases), a look-up by number or name and the
CSV import for supervisors; on the letter page, the holder's corrections of what the reading got wrong (an
entity value) and of the customer the letter is linked to. Routes are thin: storage.customers does the work,
as for the API (web/api_customers.py, web/api_entities.py)."""

from __future__ import annotations

import csv
import io
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from ground import i18n
from ground.errors import MailroomError
from ground.i18n import _
from ground.records import ENTITY_NAMES
from storage.audit import record
from storage.customers import (
    IMPORT_COLUMNS,
    customer_by_number,
    customer_history,
    customer_visible,
    find_customers,
    import_customers,
)
from storage.models import Customer, Role
from web.api_entities import apply_correction, held_item
from web.api_queues import _agent_queues
from web.deps import CurrentUser, SessionDep
from web.pages import env, localize, page_error, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

MAX_SHOWN_ERRORS = 1000
env.globals["entity_names"] = ENTITY_NAMES  # the letter page's "add a value the reading missed"

# Refusals of the correction in fixed words, so that page_error finds them in the catalogs.
REASONS = (
    i18n.N_("the new value is the same as the old one"),
    i18n.N_("give the value as it should read, or the value to remove"),
    i18n.N_("the value is empty"),
)
# The problems of an imported row that are fixed words (storage.customers), so that the page says them in the
# reader's language; the others name the value and stay as they are.
IMPORT_PROBLEMS = (
    i18n.N_("id is empty"),
    i18n.N_("name is empty"),
    i18n.N_("id is longer than 40 characters"),
    i18n.N_("national_id is given without its national_id_kind"),
    i18n.N_("more values than the header has columns (a stray comma or line break?)"),
)


def _import_problem(problem: str) -> str:
    """A row's problem as storage.customers words it; the fixed ones in the reader's language."""
    return _(problem)


def _search_page(request: Request, session: SessionDep, user: CurrentUser, q: str = "", result: dict | None = None,
                 status_code: int = 200) -> HTMLResponse:
    found = find_customers(session, q) if q.strip() else []
    if q.strip():
        record(session, user.username, "customer.searched", detail={"results": len(found)})
    return render(request, "customers.html", status_code, q=q, found=found, result=result,
                  may_import=user.role in (Role.SUPERVISOR.value, Role.ADMIN.value), columns=IMPORT_COLUMNS)


@router.get("/customers")
def customers_page(request: Request, user: CurrentUser, session: SessionDep, q: str = "") -> HTMLResponse:
    """Look a customer up by number (or its beginning), a part of the name, e-mail, phone or national id."""
    return _search_page(request, session, user, q[:200])


@router.post("/customers/import")
def customers_import(request: Request, user: CurrentUser, session: SessionDep,
                     file: Annotated[UploadFile, File()]) -> HTMLResponse:
    """The CSV import as a form (the same as ``POST /api/customers/import``): every row is checked first;
    with any problem nothing is written and the page lists the problems per row."""
    data = file.file.read()
    result: dict = {"name": (file.filename or "")[:200], "added": 0, "updated": 0, "errors": [], "problem": ""}
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except UnicodeDecodeError:
        result["problem"] = _("The file is not a UTF-8 CSV; save it as CSV UTF-8 and import it again.")
        return _search_page(request, session, user, result=result, status_code=422)
    except csv.Error as exc:
        result["problem"] = _("The file cannot be read as CSV: %(error)s") % {"error": str(exc)}
        return _search_page(request, session, user, result=result, status_code=422)
    if not rows:
        result["problem"] = _("The file has no customer rows.")
        return _search_page(request, session, user, result=result, status_code=422)
    done = import_customers(session, rows)
    if done.errors:
        session.rollback()
        result["errors"] = [(row, _import_problem(problem)) for row, problem in done.errors[:MAX_SHOWN_ERRORS]]
        result["error_count"] = len(done.errors)
        return _search_page(request, session, user, result=result, status_code=422)
    record(session, user.username, "customers.imported", detail={"added": done.added, "updated": done.updated,
                                                                 "by": "page"})
    session.commit()
    result.update(added=done.added, updated=done.updated)
    return _search_page(request, session, user, result=result)


@router.get("/customers/{customer_id}")
def customer_page(customer_id: str, request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    """The customer: identifiers, contact channels and the letters in and out, oldest first. An agent sees only
    a customer with a letter in their queues (anyone else's is 404), and only the letters of those queues."""
    allowed = _agent_queues(session, user)
    customer = session.get(Customer, customer_id) if len(customer_id) <= 40 else None
    if customer is None or not customer_visible(session, customer_id, allowed):
        raise HTTPException(404, _("Not found."))
    entries = customer_history(session, customer_id, allowed)
    record(session, user.username, "customer.viewed", detail={"customer_id": customer_id, "letters": len(entries)})
    return render(request, "customer.html", customer=customer, entries=entries,
                  auditor=user.role in (Role.AUDITOR.value, Role.ADMIN.value),
                  agent=user.role in (Role.AGENT.value, Role.SUPERVISOR.value, Role.ADMIN.value),
                  overseer=user.role in (Role.SUPERVISOR.value, Role.AUDITOR.value, Role.ADMIN.value))


# ---------------------------------------------------------------- corrections on the letter page


def _back(item_id: int, message: str) -> RedirectResponse:
    return RedirectResponse(f"/agent/items/{item_id}?" + urlencode({"message": message}) + "#fields-title",
                            status_code=303)


@router.post("/agent/items/{item_id}/entities/correct")
def correct_entity_form(item_id: int, user: CurrentUser, session: SessionDep,
                        entity: Annotated[str, Form(max_length=32)],
                        old: Annotated[str, Form(max_length=200)] = "",
                        new: Annotated[str, Form(max_length=200)] = "",
                        reason: Annotated[str, Form(max_length=500)] = "") -> RedirectResponse:
    """The holder corrects one entity value (``old`` empty: add one; ``new`` empty: remove it)."""
    if not 0 < item_id < 2**63:
        raise HTTPException(404, _("Not found."))
    try:
        apply_correction(session, user, item_id, entity, old, new, reason, local_dates=True)
    except HTTPException:
        raise
    except MailroomError as exc:
        session.rollback()
        return _back(item_id, page_error(exc))
    session.commit()
    return _back(item_id, _("The correction is saved."))


@router.post("/agent/items/{item_id}/customer/link")
def link_customer_form(item_id: int, user: CurrentUser, session: SessionDep,
                       customer_id: Annotated[str, Form(max_length=40)] = "",
                       reason: Annotated[str, Form(max_length=500)] = "") -> RedirectResponse:
    """The holder links the letter to another customer (empty: to none), with a reason; audited as the API's
    ``PUT /api/work-items/{id}/customer``."""
    if not 0 < item_id < 2**63:
        raise HTTPException(404, _("Not found."))
    try:
        item = held_item(session, user, item_id)
    except MailroomError as exc:
        session.rollback()
        return _back(item_id, page_error(exc))
    wanted = " ".join(customer_id.split()) or None
    customer = customer_by_number(session, wanted) if wanted else None
    if wanted and customer is None:
        return _back(item_id, _("There is no customer %(number)s.") % {"number": wanted})
    if not reason.strip():
        return _back(item_id, _("Say why the letter belongs to this customer."))
    doc = item.document
    before = doc.customer_id
    doc.customer_id = customer.id if customer is not None else None
    record(session, user.username, "document.customer_linked", document_id=doc.id, work_item_id=item_id,
           envelope_id=doc.envelope_id,
           detail={"from": before, "to": doc.customer_id, "reason": reason.strip()[:500], "by": "person"})
    session.commit()
    return _back(item_id, _("The letter is linked to %(customer)s.") % {"customer": customer.name}
                 if customer is not None else _("The letter is linked to no customer now."))
