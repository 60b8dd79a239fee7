"""Archive search: one interface over SQLite FTS5 and PostgreSQL full-text search.

Every document has a row in ``search_entries`` holding its text *folded* in Python (lower case,
diacritics removed, ``ł``→``l``, ``ё``→``е``, punctuation dropped) and the fields auditors filter
on; normalised entity values live in ``search_entity_values``. Folding in Python, not in the
database, gives both backends the same words (PostgreSQL's ``unaccent`` extension is not needed)
and lets a query typed without diacritics ("zazalenie") find the letter ("zażalenie").

- SQLite: an external-content FTS5 table ``search_fts`` over ``folded``, kept in sync by triggers.
- PostgreSQL: a generated ``tsv`` column with a GIN index: ``to_tsvector('simple', folded)`` plus the
  receipt month and day as lexemes no query word can reach (``search_tsv``, migration 0009).

Both are created by migration 0005, so ``index_document`` is the same upsert on both. Queue and
work-item status change after indexing, so they are filtered live against ``work_items``.

Speed at 1,000,000 documents (docs/benchmarks.md, "Archive search"):

- SQLite: an entry's id (the FTS5 rowid) is :func:`date_key` of its receipt time (migration 0007), so
  "newest first" / "oldest first" is FTS5's own rowid order and a date range is a rowid range: a date
  sort or the relevance candidates (the RANK_CANDIDATES newest matches) stop after what they need.
- PostgreSQL: relevance reads the matches in a window of the newest receipt times sized from the
  planner's estimate of the rarest word (widened by the density actually found). A narrow window is
  part of the GIN query as receipt-day/month lexemes (``'@2026-11'``, migration 0009), so GIN walks
  the window's postings instead of a bitmap of every match; a wide one is a ``received_at`` range.
  Only the candidates' ctids go through the top-N sort; they are ranked after the LIMIT, and the
  total comes from the same scan; counts above the cap come from the estimate. A date sort walks
  ``received_at`` newest first and stops at the page.
- Both: entity and customer filters are resolved to their few entries first and drive the query.

Query language: words (all must occur), ``"a phrase"``, prefixes ``wypow*``, ``OR`` between two
terms, ``-word`` to exclude, ``=word`` / ``="a phrase"`` for these forms only. Snippets are cut from the
original text in Python, so both backends highlight the same way and diacritics are kept.

Inflection (migration 0013, ``storage/lemmas.py``): every entry also holds ``lemmas``, one folded lemma per
word of ``folded`` (same words, same positions), lemmatised in the letter's language. A query word (not a
prefix, not ``=``) matches a position whose form is the word or one of the word's lemmas in every language
it may be in, or whose lemma is one of those: ``umowa`` finds ``umowy``, ``"wypowiedzenie umowy"`` finds
``wypowiedzenia umowy`` (the words in that order, in any form).

- SQLite: ``search_fts`` has two columns, ``folded`` and ``lemmas``. A word is ``(w OR l1 OR l2)`` over
  both; a phrase is ``folded : "w1 w2"`` or ``lemmas : "l1 l2"`` for each choice of lemmas; a prefix or an
  ``=`` term reads ``folded`` only.
- PostgreSQL: ``tsv`` also holds, at the position of every word whose lemma differs from its form, the
  lemma marked with ``LEMMA_MARK`` (``'éumowa':7`` beside ``'umowy':7``; ``search_tsv(folded, lemmas,
  received_at)``). No folded query word starts with the mark (folding removes every accent). A word is
  ``('w' | 'l1' | 'él1' | ...)``; a phrase is those joined by ``<->``.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Select, and_, cast, column, delete, func, literal, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from ground.errors import MailroomError
from storage import lemmas as _lemmas
from storage.models import Document, Envelope, SearchEntityValue, SearchEntry, WorkItem

TOKEN = re.compile(r"[^\W_]+")
_DIGIT = re.compile(r"\d")
_SPECIAL = str.maketrans({"ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ß": "ss",
                          "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i"})
MAX_PER_PAGE = 200
COUNT_CAP = 10_000  # totals above this are reported as "10000+" (counting every match is slow)
SNIPPET_TOKENS = 28
RANK_CANDIDATES = 5_000  # relevance ranks at most this many matches: the most recently received
RANK_WORK_MEM = "64MB"  # PostgreSQL, for the relevance candidates query only
WINDOW_MARGIN = 1.5  # PostgreSQL: a relevance window is sized for this many times RANK_CANDIDATES matches
WINDOW_MAX = 0.8  # a wider window saves little (and loses the free total): read every match instead
LEXEME_WINDOW_MAX = 0.3  # PostgreSQL: narrower relevance windows are receipt-time lexemes in the GIN query
WINDOW_MAX_PHRASE = 0.35  # phrases are under-estimated, so the window is a filter on every match, not a bitmap
LEMMA_MARK = "é"  # PostgreSQL: a lemma lexeme is the mark + the lemma (migration 0013); folded words never have it
MAX_PHRASE_VARIANTS = 32  # SQLite: a phrase's lemma choices are FTS5 phrases OR-ed together, at most this many


class BadQuery(MailroomError):
    code = "bad_query"
    http_status = 400


@lru_cache(maxsize=500_000)
def fold_token(token: str) -> str:
    t = token.translate(_SPECIAL).lower()
    if t.isascii():
        return t
    return "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    return [fold_token(t) for t in TOKEN.findall(text)]


def fold(text: str) -> str:
    """The indexed form of a text: folded words separated by single spaces."""
    return " ".join(tokens(text))


def lemma_stream(text: str, language: str | None) -> str:
    """What ``search_entries.lemmas`` holds: one folded lemma per word of :func:`fold`'s, in ``language``."""
    return _lemmas.lemma_stream(text, language)


def date_key(when: datetime, document_id: str = "") -> int:
    """SQLite row id of a search entry: its receipt time in microseconds, times 1000, plus a tie-breaker.

    FTS5 walks a match list in rowid order and stops at a LIMIT, and it seeks to a rowid range, so
    with this key "newest first", "oldest first" and a date range cost what the page costs, not what
    the match count costs (migration 0007 renumbers older rows). ``date_key(t)`` with no document is
    the lowest key of the instant ``t``.
    """
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    micros = (when - _EPOCH) // timedelta(microseconds=1)
    return micros * 1000 + (zlib.crc32(document_id.encode()) % 1000 if document_id else 0)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_sqlite_time(value: object) -> datetime:
    """A ``received_at`` as SQLite returns it to raw SQL (SQLAlchemy's text form, UTC without zone)."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def normalise_entity(value: str) -> str:
    return re.sub(r"\s+", "", str(value)).upper()


# --------------------------------------------------------------------------- query parsing


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # folded; more than one: a phrase
    prefix: bool = False  # the last word is a prefix
    lemmas: tuple[tuple[str, ...], ...] = ()  # per word, the folded lemmas it may stand for (storage.lemmas);
    # empty: these forms only (a prefix, or "=word"); () for one word: that word as written (it has a digit)

    def variants(self, limit: int = MAX_PHRASE_VARIANTS) -> list[tuple[str, ...]]:
        """The lemma sequences of the term (one lemma per word), at most ``limit``: fewer choices for the
        later words first (each word keeps at least its most likely lemmas)."""
        if not any(self.lemmas):
            return []
        choices = [list(c) or [w] for c, w in zip(self.lemmas, self.words, strict=True)]
        while choices and _product(choices) > limit:
            longest = max(range(len(choices)), key=lambda i: (len(choices[i]), i))
            choices[longest].pop()
        out: list[tuple[str, ...]] = [()]
        for c in choices:
            out = [v + (w,) for v in out for w in c]
        return [v for v in out if v]


def _product(choices: list[list[str]]) -> int:
    n = 1
    for c in choices:
        n *= len(c)
    return n


@dataclass
class Query:
    clauses: list[list[Term]] = field(default_factory=list)  # AND of ORs
    exclude: list[Term] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.clauses

    def terms(self) -> list[Term]:
        return [t for c in self.clauses for t in c]


_QTOKEN = re.compile(r'(-?)(=?)"([^"]*)"(\*?)|(\S+)')


def parse_query(q: str) -> Query:
    query = Query()
    join_next = False
    for m in _QTOKEN.finditer(q or ""):
        neg, exact, phrase, star, word = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)
        if word is not None:
            if word == "OR":
                join_next = bool(query.clauses)
                continue
            neg = "-" if word.startswith("-") and len(word) > 1 else ""
            word = word[1:] if neg else word
            exact = "=" if word.startswith("=") and len(word) > 1 else ""
            word = word[1:] if exact else word
            star = "*" if word.endswith("*") else ""
            phrase = word.rstrip("*")
        raw = TOKEN.findall(phrase or "")
        words = tuple(fold_token(w) for w in raw)
        if not words:
            continue
        # a word with a digit (a number, an invoice number's part) has no lemma and no other form: ()
        lemmas = () if exact or star else tuple(() if _DIGIT.search(w) else _lemmas.query_lemmas(w) for w in raw)
        term = Term(words, prefix=bool(star), lemmas=lemmas)
        if neg:
            query.exclude.append(term)
        elif join_next:
            query.clauses[-1].append(term)
        else:
            query.clauses.append([term])
        join_next = False
    if query.exclude and query.empty:
        raise BadQuery("A query needs at least one word that must occur, not only excluded words.")
    return query


def fts5_expression(query: Query) -> str:
    def phrase(words: Iterable[str]) -> str:
        return '"' + " ".join(words) + '"'

    def term(t: Term) -> str:
        if not t.lemmas:  # these forms only: the folded column
            return "folded : " + phrase(t.words) + (" *" if t.prefix else "")
        if len(t.words) == 1:  # the form, or a lemma, in either column (see the module's docstring)
            return "(" + " OR ".join(phrase((w,)) for w in dict.fromkeys(t.words + t.lemmas[0])) + ")"
        return "(" + " OR ".join(["folded : " + phrase(t.words)]
                                 + ["lemmas : " + phrase(v) for v in t.variants()]) + ")"

    expr = " AND ".join("(" + " OR ".join(term(t) for t in clause) + ")" for clause in query.clauses)
    if query.exclude:
        expr = f"({expr}) NOT (" + " OR ".join(term(t) for t in query.exclude) + ")"
    return expr


def tsquery_expression(query: Query) -> str:
    def word(i: int, t: Term) -> str:
        if not t.lemmas or not t.lemmas[i]:
            return f"'{t.words[i]}'" + (":*" if t.prefix and i == len(t.words) - 1 else "")
        forms = dict.fromkeys((t.words[i], *t.lemmas[i]))
        return "(" + " | ".join([f"'{w}'" for w in forms] + [f"'{LEMMA_MARK}{w}'" for w in t.lemmas[i]]) + ")"

    def term(t: Term) -> str:
        return "(" + " <-> ".join(word(i, t) for i in range(len(t.words))) + ")"

    expr = " & ".join("(" + " | ".join(term(t) for t in clause) + ")" for clause in query.clauses)
    for t in query.exclude:
        expr += f" & !{term(t)}"
    return expr


# --------------------------------------------------------------------------- results


@dataclass
class Filters:
    date_from: date | None = None  # received on or after (UTC day)
    date_to: date | None = None  # received on or before (UTC day, inclusive)
    channel: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    queue: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)  # work-item state: new, claimed, on_hold, done
    customer: str | None = None  # a customer number (MR-1234567 in any spelling, or another operator's)
    entity: list[str] = field(default_factory=list)  # "FV/2026/10/004512" or "invoice_no=FV/2026/10/004512"


@dataclass
class Hit:
    document_id: str
    envelope_id: str
    received_at: datetime
    channel: str
    language: str | None
    category: str | None
    queue: str | None
    status: str | None
    score: float
    snippet: str
    entities: dict[str, Any]


@dataclass
class SearchPage:
    hits: list[Hit]
    total: int  # capped at COUNT_CAP
    total_capped: bool
    page: int
    per_page: int
    sort: str


class SearchIndex(Protocol):
    def index_document(self, session: Session, doc: Document) -> None: ...

    def remove_document(self, session: Session, document_id: str) -> None: ...

    def search(self, session: Session, query: str, filters: Filters | None = None, sort: str = "relevance",
               page: int = 1, per_page: int = 20) -> SearchPage: ...


def _customer(value: str) -> str:
    """A customer number as the filter compares it: Mailroom's own MR-1234567 in any spelling, any other
    operator's number (ground/config/entities.yaml) as written, without spaces, upper-case."""
    m = re.fullmatch(r"MR[\s-]?(\d{7})", value.strip().upper())
    return f"MR-{m.group(1)}" if m else normalise_entity(value)


def entity_rows(entities: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for name, values in (entities or {}).items():
        for v in values if isinstance(values, list) else [values]:
            if isinstance(v, dict):  # {"value": ..., ...} shapes
                v = v.get("value") or v.get("norm")
            if v is not None and str(v).strip():
                yield name[:20], normalise_entity(str(v))[:120]


class _Base:
    dialect = ""
    _session: Session
    _phrase = False
    window_fraction = 1.0  # of the time span the last relevance window covered
    window_matched = 0  # matches in that window
    window_start: datetime | None = None

    def index_document(self, session: Session, doc: Document) -> None:
        """Insert or refresh the search row of a document (idempotent; call after read and classify)."""
        env = doc.envelope if doc.envelope is not None else session.get(Envelope, doc.envelope_id)
        assert env is not None
        entry = session.scalars(select(SearchEntry).where(SearchEntry.document_id == doc.id)).first()
        if entry is None:
            entry = SearchEntry(document_id=doc.id, id=self._new_id(session, env.received_at, doc.id))
            session.add(entry)
        entry.envelope_id, entry.received_at, entry.channel = env.id, env.received_at, env.channel
        entry.language, entry.category = doc.language, doc.category
        new_folded = fold(doc.text or "")
        if entry.folded != new_folded:
            entry.folded = new_folded
        new_lemmas = lemma_stream(doc.text or "", doc.language)  # the language decides the lemmatiser
        if entry.lemmas != new_lemmas:
            entry.lemmas = new_lemmas
        session.execute(delete(SearchEntityValue).where(SearchEntityValue.document_id == doc.id))
        session.add_all([SearchEntityValue(document_id=doc.id, name=n, value=v)
                         for n, v in sorted(set(entity_rows(doc.entities)))])

    def remove_document(self, session: Session, document_id: str) -> None:
        session.execute(delete(SearchEntityValue).where(SearchEntityValue.document_id == document_id))
        session.execute(delete(SearchEntry).where(SearchEntry.document_id == document_id))

    # -- the backend-specific parts
    def _new_id(self, session: Session, received_at: datetime, document_id: str) -> int | None:
        return None  # the sequence

    def _match(self, stmt: Select[Any], query: Query) -> tuple[Select[Any], Any]:
        raise NotImplementedError

    def _newest(self, fts: bool, ascending: bool = False) -> list[Any]:
        """The order "newest first" (or oldest first) that the engine can walk without sorting."""
        e = SearchEntry
        return [e.received_at, e.id] if ascending else [e.received_at.desc(), e.id.desc()]

    def _date_range(self, f: Filters, fts: bool) -> list[Any]:
        e = SearchEntry
        conds: list[Any] = []
        if f.date_from:
            conds.append(e.received_at >= datetime.combine(f.date_from, time(), UTC))
        if f.date_to:
            conds.append(e.received_at < datetime.combine(f.date_to + timedelta(days=1), time(), UTC))
        return conds

    def _restrict(self, ids: list[int], fts: bool) -> Any:
        return SearchEntry.id.in_(ids)

    def search(self, session: Session, query: str, filters: Filters | None = None, sort: str = "relevance",
               page: int = 1, per_page: int = 20) -> SearchPage:
        if sort not in ("relevance", "date", "date_asc"):
            raise BadQuery(f"Unknown sort {sort!r}: use relevance, date or date_asc.")
        page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
        parsed, f = parse_query(query), filters or Filters()
        self._session = session
        self._phrase = any(len(t.words) > 1 for t in parsed.terms())
        fts = not parsed.empty
        e = SearchEntry
        stmt: Select[Any] = select(e.document_id)
        score: Any = literal_column("0")
        loose: Any = stmt
        if fts:
            loose = [self._match(loose, q)[0] for q in _loose(parsed)]
            stmt, score = self._match(stmt, parsed)  # last: the PostgreSQL index keeps its tsquery for ranking
        # Entity and customer filters are the selective ones: resolve them to a few entries first and
        # drive the query from those, rather than testing every text match against the values table.
        chosen = _entity_entries(session, f)
        if chosen is not None:
            if not chosen:
                return SearchPage(hits=[], total=0, total_capped=False, page=page, per_page=per_page, sort=sort)
        conds = [*self._date_range(f, fts), *_filter_conditions(f, entities=chosen is None)]
        if chosen is not None:
            conds.append(self._restrict(chosen, fts))
        stmt = stmt.where(*conds)
        loose_stmts = [q.where(*conds) for q in loose] if fts else []
        offset = (page - 1) * per_page
        known: int | None = None  # the number of matches, when a query has already established it
        if sort == "relevance" and fts:
            # Ranking scores every candidate, so it is bounded: the RANK_CANDIDATES most recently
            # received matches (after filters), read newest first from the index without a sort.
            window = self._window(session, loose_stmts, f)
            while True:
                cand = (stmt.where(*window).add_columns(*self._rank_inputs(score), e.received_at.label("received_at"))
                        .order_by(*self._newest(fts)).limit(RANK_CANDIDATES).subquery())
                base, ranked = self._rank(cand)
                ordered = (base.add_columns(ranked.label("score"), func.count().over().label("n"))
                           .order_by(ranked, cand.c.received_at.desc()))
                result = self._candidates(session, ordered.limit(per_page).offset(offset), bool(window))
                first = result[0]._mapping if result else {}
                candidates = int(first.get("n", 0 if offset == 0 else -1))  # -1: past the end, unknown
                matched = first.get("matched")  # PostgreSQL: every match read (in the window), before the LIMIT
                if not window or candidates >= RANK_CANDIDATES:
                    break
                window = self._widen(session, f, matched)  # it held too few: a wider one, or all matches
            rows = [(r[0], r._mapping["score"]) for r in result]  # PostgreSQL rows also carry "matched"
            if window:
                self.window_matched = int(matched or 0)
            elif matched is not None:
                known = int(matched)
            elif 0 <= candidates < RANK_CANDIDATES:
                known = candidates  # every match was a candidate
        else:
            ordered = stmt.add_columns(score.label("score")).order_by(*self._newest(fts, sort == "date_asc"))
            rows = [(r[0], r[1]) for r in session.execute(ordered.limit(per_page).offset(offset)).all()]
            if page == 1 and len(rows) < per_page:
                known = len(rows)
        total = known if known is not None else self._count(session, stmt, bare=not conds)
        hits = _hits(session, [(r[0], float(r[1] or 0)) for r in rows], parsed, self.dialect)
        return SearchPage(hits=hits, total=min(total, COUNT_CAP), total_capped=total > COUNT_CAP, page=page,
                          per_page=per_page, sort=sort)

    def _window(self, session: Session, loose: list[Select[Any]], f: Filters) -> list[Any]:
        """Conditions narrowing a broad relevance query to a recent time window (none: read all matches).

        ``loose`` are the query's single words (each matches at least what the query does: estimates).
        """
        return []

    def _widen(self, session: Session, f: Filters, matched: int | None) -> list[Any]:
        return []

    def _rank_inputs(self, score: Any) -> list[Any]:
        return [score.label("score")]

    def _rank(self, cand: Any) -> tuple[Select[Any], Any]:
        return select(cand.c.document_id), cand.c.score

    def _candidates(self, session: Session, stmt: Select[Any], windowed: bool) -> list[Any]:
        return list(session.execute(stmt).all())

    def _count(self, session: Session, stmt: Select[Any], bare: bool = False) -> int:
        """Matches up to COUNT_CAP + 1; ``bare``: the query has no filter, only text (or nothing)."""
        return int(session.execute(select(func.count()).select_from(stmt.limit(COUNT_CAP + 1).subquery()))
                   .scalar_one())


_FTS = table("search_fts", column("rowid"), column("rank"))


class SqliteFts5Index(_Base):
    """Entries are keyed by :func:`date_key`, so FTS5's rowid order is receipt order."""

    dialect = "sqlite"
    _expr: str | None = None  # the FTS5 expression of the last _match

    def _new_id(self, session: Session, received_at: datetime, document_id: str) -> int | None:
        key = date_key(received_at, document_id)
        while session.get(SearchEntry, key) is not None:  # same microsecond and tie-breaker: next free key
            key += 1
        return key

    def _match(self, stmt: Select[Any], query: Query) -> tuple[Select[Any], Any]:
        self._expr = fts5_expression(query)
        stmt = (stmt.select_from(_FTS).join(SearchEntry, SearchEntry.id == _FTS.c.rowid)
                .where(text("search_fts MATCH :fts").bindparams(fts=self._expr)))
        return stmt, _FTS.c.rank  # bm25: smaller is better

    def _count(self, session: Session, stmt: Select[Any], bare: bool = False) -> int:
        if bare and self._expr:  # text only: count in FTS5 without reading the rows
            return int(session.execute(text("SELECT count(*) FROM (SELECT rowid FROM search_fts WHERE search_fts "
                                            "MATCH :fts LIMIT :n)"), {"fts": self._expr, "n": COUNT_CAP + 1})
                       .scalar_one())
        return super()._count(session, stmt, bare)

    def _key(self, fts: bool) -> Any:
        return _FTS.c.rowid if fts else SearchEntry.id

    def _newest(self, fts: bool, ascending: bool = False) -> list[Any]:
        # FTS5 walks its doclists in rowid order (either way) and stops at the LIMIT
        return [self._key(fts)] if ascending else [self._key(fts).desc()]

    def _date_range(self, f: Filters, fts: bool) -> list[Any]:
        conds = super()._date_range(f, fts)  # exact; the key range below lets FTS5 / the table seek
        if f.date_from:
            conds.append(self._key(fts) >= date_key(datetime.combine(f.date_from, time(), UTC)))
        if f.date_to:
            end = date_key(datetime.combine(f.date_to + timedelta(days=1), time(), UTC))
            conds.append(self._key(fts) < end + 1_000_000)  # 1 ms of slack for tie-breaker overflow
        return conds

    def _restrict(self, ids: list[int], fts: bool) -> Any:
        return self._key(fts).in_(ids)


def time_lexemes(start: datetime, end: datetime) -> str:
    """A tsquery matching every PostgreSQL entry received from ``start`` (a UTC midnight) on (migration 0009).

    Days up to the end of ``start``'s month, then whole months up to the month after ``end``'s (an entry
    received while the query runs still counts). The lexemes start with ``@``: no query word reaches them.
    """
    day, parts = start.astimezone(UTC).date(), []
    while day.day != 1:
        parts.append(f"'@{day:%Y-%m-%d}'")
        day += timedelta(days=1)
    month, last = day, _next_month(end.astimezone(UTC).date())
    while month <= last:
        parts.append(f"'@{month:%Y-%m}'")
        month = _next_month(month)
    return " | ".join(parts)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _rank_fn(tsv: Any, tsq: Any) -> Any:
    """``ts_rank`` (frequency of the query's words, with diminishing returns).

    ``ts_rank_cd`` (cover density) cost 4x as much on phrases: 24 ms for 5,000 candidates vs 6 ms.
    Length normalisation (flag 1) ranked a two-word letter above one repeating the word seven times.
    """
    return func.ts_rank(tsv, tsq)


class PostgresFtsIndex(_Base):
    dialect = "postgresql"

    def _estimate(self, session: Session, stmt: Select[Any]) -> float:
        """The planner's estimate of the matches (tsvector most-common-element statistics; ~0.3 ms)."""
        # bound parameters (IN lists expanded): a value is never read as SQL, as ":x" or as "%(x)s"
        compiled = stmt.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
        plan = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
        plan = plan if isinstance(plan, list) else json.loads(plan)
        return float(plan[0]["Plan"]["Plan Rows"])

    def _window(self, session: Session, loose: list[Select[Any]], f: Filters) -> list[Any]:
        """The newest slice of time expected to hold three times RANK_CANDIDATES matches, if that is small.

        Walking ``received_at`` newest first and testing every row reads 1/selectivity rows per match;
        a bitmap AND of the GIN match and a ``received_at`` range reads only the matches in the window.
        A window that turns out too small is dropped by the caller (one more query, all matches).
        """
        expected = min(self._word_estimate(session, q) for q in loose)  # an upper bound: words co-occur
        self.window_fraction = WINDOW_MARGIN * RANK_CANDIDATES / max(expected, 1.0)
        return self._window_conditions(session, f)

    def _word_estimate(self, session: Session, stmt: Select[Any]) -> float:
        """The planner's estimate for one word, corrected for a word with lemmas (0013).

        ``'reklamacji' | 'reklamacja' | 'éreklamacja'`` is estimated as if its lexemes were independent, but
        a letter with one form has its lemma too: the sum is up to twice the matches, and a window sized
        from it holds too few (a second, wider query). The estimate is scaled down to the most frequent
        lexeme's share (a lower bound: the window is then a little wider than needed, never too narrow).
        """
        estimate = self._estimate(session, stmt)
        tsq = str(stmt.get_execution_options().get("mailroom_tsquery", ""))
        lexemes = re.findall(r"'([^']*)'", tsq)
        if len(lexemes) < 2 or any(op in tsq for op in ("&", "<", "!", ":*")):
            return estimate
        tsv = literal_column("search_entries.tsv")

        def bare(q: str) -> float:
            return self._estimate(session, select(SearchEntry.document_id)
                                  .where(tsv.op("@@")(cast(literal(q), TSQUERY))))

        whole = bare(tsq)
        most = max(bare(f"'{lexeme}'") for lexeme in lexemes)
        return estimate * min(1.0, most / max(whole, 1.0))

    def _widen(self, session: Session, f: Filters, matched: int | None) -> list[Any]:
        """Size the next window by the density of matches the last one actually held."""
        density = (matched or 0) / self.window_fraction
        needed = WINDOW_MARGIN * RANK_CANDIDATES / density if density else 8 * self.window_fraction
        self.window_fraction = max(1.25 * self.window_fraction, needed)
        return self._window_conditions(session, f)

    def _window_conditions(self, session: Session, f: Filters) -> list[Any]:
        """The window's condition: receipt-time lexemes if it is narrow (migration 0009), else a received_at range.

        Lexemes (whole UTC days from its start, then whole months) are part of the GIN query: GIN walks
        the window's postings and skips through a common word's posting tree, where a ``received_at``
        range is a second bitmap ANDed with a bitmap of every match. Their start is aligned down to a UTC
        day, so the rest (older matches, for the count) is exactly ``received_at < window_start``.
        """
        fraction = self.window_fraction
        if fraction > (WINDOW_MAX_PHRASE if self._phrase else WINDOW_MAX):
            self.window_fraction = 1.0
            return []
        e = SearchEntry
        lo, hi = (None, None) if f.date_from and f.date_to else session.execute(  # one round trip
            select(func.min(e.received_at), func.max(e.received_at))).one()
        lo = datetime.combine(f.date_from, time(), UTC) if f.date_from else lo
        hi = datetime.combine(f.date_to + timedelta(days=1), time(), UTC) if f.date_to else hi
        if lo is None or hi is None or hi <= lo:
            self.window_fraction = 1.0
            return []
        start = hi - (hi - lo) * fraction
        if fraction > LEXEME_WINDOW_MAX:
            # wide: GIN would advance every window lexeme (one a day, then a month) past every match of
            # the rarer word; a received_at range (bitmap or heap filter, the planner's choice) is cheaper
            self.window_start = start
            return [e.received_at >= start]
        start = datetime.combine(start.astimezone(UTC).date(), time(), UTC)
        self.window_start = start
        self.window_fraction = min(1.0, (hi - start) / (hi - lo))
        return [literal_column("search_entries.tsv").op("@@")(cast(literal(time_lexemes(start, hi)), TSQUERY))]

    def _candidates(self, session: Session, stmt: Select[Any], windowed: bool) -> list[Any]:
        # The planner would walk received_at newest first and test every row until the LIMIT: for
        # relevance the GIN bitmap (and the window's received_at bitmap) reads only the matches.
        # work_mem: a common word's GIN bitmap stays exact (a lossy one re-checks whole heap pages).
        # (jit: these plans are estimated at 8,000-50,000, under jit_above_cost; no JIT compile happens.)
        before = session.execute(text(
            "SELECT current_setting('enable_indexscan'), current_setting('work_mem'), "
            "set_config('enable_indexscan', 'off', true), set_config('work_mem', :mem, true)"),
            {"mem": RANK_WORK_MEM}).one()
        try:
            return list(session.execute(stmt).all())
        finally:
            session.execute(text("SELECT set_config('enable_indexscan', :a, true), set_config('work_mem', :b, true)"),
                            {"a": before[0], "b": before[1]})

    def _count(self, session: Session, stmt: Select[Any], bare: bool = False) -> int:
        """Exact up to COUNT_CAP, but "COUNT_CAP+" straight from the planner's estimate when that is far above.

        Counting 10,001 matches of a common word reads 10,001 rows (and re-checks phrases in each); the
        planner's estimate (tsvector most-common-element statistics) is cheap and, at three times the
        cap, safely above it.
        """
        windowed = self.window_fraction < 1.0 and self.window_start is not None
        if windowed and self.window_matched / self.window_fraction > 3 * COUNT_CAP:
            return COUNT_CAP + 1  # extrapolated from the matches the newest window held
        if self._estimate(session, stmt) > 3 * COUNT_CAP:
            return COUNT_CAP + 1
        if not windowed:
            return super()._count(session, stmt, bare)
        if self.window_matched > COUNT_CAP:
            return self.window_matched
        # the window's matches are known: count only the older ones, up to what the cap still needs
        rest = stmt.where(SearchEntry.received_at < self.window_start).limit(COUNT_CAP + 1 - self.window_matched)
        return self.window_matched + int(session.execute(select(func.count()).select_from(rest.subquery()))
                                         .scalar_one())

    def _match(self, stmt: Select[Any], query: Query) -> tuple[Select[Any], Any]:
        # to_tsquery is STABLE, not folded by the planner: in a re-check or a rank it ran once per row
        # (~3 us). Normalised once here, the tsquery is a constant, still visible to the estimates.
        normalised = self._session.execute(text("SELECT to_tsquery('simple', :q)::text"),
                                           {"q": tsquery_expression(query)}).scalar_one()
        tsq = cast(literal(normalised), TSQUERY)
        tsv = literal_column("search_entries.tsv")
        stmt = (stmt.select_from(SearchEntry).where(tsv.op("@@")(tsq))
                .execution_options(mailroom_tsquery=normalised))  # for _word_estimate
        self._tsq = tsq
        return stmt, -_rank_fn(tsv, tsq)  # negated: ascending order is best first, as in SQLite

    def _rank_inputs(self, score: Any) -> list[Any]:
        # Ranked after the LIMIT: ranking every match read (12,000 for a common phrase) cost more (~3 us a
        # row in the plan). Only the row's ctid goes through the window count and the top-N sort (tsv,
        # ~1.3 kB a row, was copied into both); the candidates' tsv is fetched again by ctid (a TID scan
        # of pages just read, in the same statement's snapshot). The window count sees every match
        # before the LIMIT: the total comes with the candidates.
        return [literal_column("search_entries.ctid").label("row_ctid"), func.count().over().label("matched")]

    def _rank(self, cand: Any) -> tuple[Select[Any], Any]:
        row = _ENTRY_TSV.alias("ranked_entry")
        base = select(cand.c.document_id, cand.c.matched).select_from(cand.join(row, row.c.ctid == cand.c.row_ctid))
        return base, -_rank_fn(row.c.tsv, self._tsq)


_ENTRY_TSV = table("search_entries", column("ctid"), column("tsv"))


def _loose(query: Query) -> list[Query]:
    """One query per required word (phrases split, OR groups kept): each matches at least what ``query`` does."""
    out = [Query(clauses=[[Term((w,), t.prefix and i == len(t.words) - 1, t.lemmas[i:i + 1])]])
           for c in query.clauses if len(c) == 1 for t in c for i, w in enumerate(t.words)]
    return out + [Query(clauses=[c]) for c in query.clauses if len(c) > 1]


ENTITY_DRIVE_MAX = 2_000  # more entries than this with one entity value: filter as a subquery instead


def _entity_wanted(f: Filters) -> list[tuple[str | None, str]]:
    wanted: list[tuple[str | None, str]] = [("customer_id", _customer(f.customer))] if f.customer else []
    for item in f.entity:
        name, _, value = item.partition("=") if "=" in item else ("", "", item)
        wanted.append((name.strip() or None, normalise_entity(value)))
    return wanted


def _entity_entries(session: Session, f: Filters) -> list[int] | None:
    """Ids of the entries carrying every wanted entity value; None: no such filter, or too common to list."""
    wanted = _entity_wanted(f)
    if not wanted:
        return None
    ids: set[int] | None = None
    for name, value in wanted:
        sub = select(SearchEntityValue.document_id).where(SearchEntityValue.value == value)
        if name:
            sub = sub.where(SearchEntityValue.name == name)
        found = set(session.scalars(select(SearchEntry.id).where(SearchEntry.document_id.in_(sub))
                                    .limit(ENTITY_DRIVE_MAX + 1)))
        if len(found) > ENTITY_DRIVE_MAX:
            return None
        ids = found if ids is None else ids & found
        if not ids:
            return []
    return sorted(ids or ())


def _filter_conditions(f: Filters, entities: bool = True) -> list[Any]:
    e = SearchEntry
    conds: list[Any] = []
    for col, values in ((e.channel, f.channel), (e.category, f.category), (e.language, f.language)):
        if values:
            conds.append(col.in_(values))
    if f.queue or f.status:  # correlated: one probe of the unique work_items.document_id index per row
        sub = select(WorkItem.id).where(WorkItem.document_id == e.document_id)
        if f.queue:
            sub = sub.where(WorkItem.queue.in_(f.queue))
        if f.status:
            sub = sub.where(WorkItem.state.in_(f.status))
        conds.append(sub.exists())
    for name, value in _entity_wanted(f) if entities else []:
        sub = select(SearchEntityValue.document_id).where(SearchEntityValue.value == value)
        if name:
            sub = sub.where(SearchEntityValue.name == name)
        conds.append(e.document_id.in_(sub))
    return conds


def _hits(session: Session, rows: Sequence[tuple[str, float]], query: Query, dialect: str) -> list[Hit]:
    if not rows:
        return []
    ids = [r[0] for r in rows]
    stmt = (select(Document, Envelope, WorkItem.queue, WorkItem.state)
            .join(Envelope, Envelope.id == Document.envelope_id)
            .outerjoin(WorkItem, and_(WorkItem.document_id == Document.id))
            .where(Document.id.in_(ids)))
    found = {d.id: (d, env, q, st) for d, env, q, st in session.execute(stmt)}
    out = []
    for doc_id, score in rows:
        if doc_id not in found:
            continue
        d, env, q, st = found[doc_id]
        out.append(Hit(document_id=d.id, envelope_id=env.id, received_at=env.received_at, channel=env.channel,
                       language=d.language, category=d.category, queue=q, status=st,
                       score=round(-score if score else 0.0, 6),
                       snippet=snippet(d.text, query, language=d.language), entities=d.entities))
    return out


def snippet(text_: str, query: Query, *, mark: tuple[str, str] = ("<mark>", "</mark>"), escape: bool = True,
            size: int = SNIPPET_TOKENS, language: str | None = None, lemmas: str | None = None) -> str:
    """The window of ``size`` words with most matches, matches wrapped in ``mark``; HTML-escaped.

    Every form the search matched is marked, inflected ones too: ``lemmas`` is the entry's lemma stream
    (``search_entries.lemmas``, one lemma per word of the text); without it (or when it no longer fits the
    text) the words are lemmatised here in ``language``, or, with no language, in every language.
    """
    matches = list(TOKEN.finditer(text_ or ""))
    if not matches:
        return ""
    toks = [(m.start(), m.end(), fold_token(m.group())) for m in matches]
    forms = [t[2] for t in toks]
    terms = query.terms()
    lemma_of: list[str] = []  # the lemma of each word (as the index keeps it)
    lemma_sets: list[tuple[str, ...]] = []  # or, with no language, every lemma it may have
    if any(t.lemmas for t in terms):
        stream = lemmas.split(" ") if lemmas else []
        if len(stream) == len(toks):
            lemma_of = stream
        elif language is not None:
            lemma_of = [_lemmas.lemma(m.group(), language) for m in matches]
        else:
            lemma_sets = [_lemmas.query_lemmas(m.group()) for m in matches]

    def column(term: Term, k: int) -> list[bool]:
        """Whether each word of the text matches the term's k-th word."""
        word = term.words[k]
        if term.prefix and k == len(term.words) - 1:
            return [f.startswith(word) for f in forms]
        if not term.lemmas:
            return [f == word for f in forms]
        choices = {word, *term.lemmas[k]}
        if lemma_sets:
            return [f in choices or not choices.isdisjoint(ls) for f, ls in zip(forms, lemma_sets, strict=True)]
        return [f in choices or le in choices for f, le in zip(forms, lemma_of, strict=True)]

    hit = [False] * len(toks)
    for term in terms:
        n = len(term.words)
        cols = [column(term, k) for k in range(n)]
        if n == 1:
            hit = [h or c for h, c in zip(hit, cols[0], strict=True)]
            continue
        for i in range(len(toks) - n + 1):
            if all(cols[k][i + k] for k in range(n)):
                for k in range(n):
                    hit[i + k] = True
    best, best_count, count = 0, -1, 0
    for i in range(len(toks)):
        count += hit[i]
        if i >= size:
            count -= hit[i - size]
        start = max(0, i - size + 1)
        if count > best_count:
            best, best_count = start, count
    lo, hi = best, min(len(toks), best + size)
    esc = html.escape if escape else (lambda s: s)
    parts: list[str] = ["…"] if lo > 0 else []
    pos = toks[lo][0]
    for i in range(lo, hi):
        s, e, _ = toks[i]
        parts.append(esc(text_[pos:s]))
        parts.append(f"{mark[0]}{esc(text_[s:e])}{mark[1]}" if hit[i] else esc(text_[s:e]))
        pos = e
    if hi < len(toks):
        parts.append(" …")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def search_index(session: Session) -> SearchIndex:
    return PostgresFtsIndex() if session.get_bind().dialect.name == "postgresql" else SqliteFts5Index()


def index_document(session: Session, doc: Document) -> None:
    search_index(session).index_document(session, doc)


def index_documents(session: Session, document_ids: Iterable[str]) -> None:
    for doc_id in document_ids:
        doc = session.get(Document, doc_id)
        if doc is not None:
            index_document(session, doc)


def search(session: Session, query: str, filters: Filters | None = None, sort: str = "relevance",
           page: int = 1, per_page: int = 20) -> SearchPage:
    return search_index(session).search(session, query, filters, sort, page, per_page)


def reindex(session: Session, batch: int = 500) -> int:
    """Rebuild every search row from the documents (after an upgrade or a reclassification)."""
    n = 0
    ids = list(session.scalars(select(Document.id).join(Envelope).where(Envelope.purged_at.is_(None))))
    for i in range(0, len(ids), batch):
        index_documents(session, ids[i:i + batch])
        session.flush()
        n += len(ids[i:i + batch])
    return n
