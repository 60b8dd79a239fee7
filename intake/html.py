"""HTML mail bodies as readable text, through a real HTML parser (libxml2, via lxml).

Linear in the input: libxml2 parses in one pass and the tree is walked once without recursion
(``iterwalk``). Paragraphs and other block elements become line breaks, ``<br>`` a line break, table
cells a tab; ``style``, ``script`` and ``head`` are dropped. ``cid:`` images the body shows inline are
reported, so intake knows which attached images are decoration of the body.

A document nested deeper than libxml2 allows (2048 levels) makes the parser stop early; its text is then
taken by a plain linear scan that skips tags (never a regular expression over markup: ``<[^>]+>`` is
quadratic on a flood of ``<``).
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass, field

import lxml.etree as etree
import lxml.html

_DROP = frozenset({"script", "style", "head", "title", "noscript", "template", "object", "embed", "iframe",
                   "svg", "math", "select", "option", "xml"})
_BLOCK = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "table",
                    "thead", "tbody", "tfoot", "tr", "caption", "blockquote", "pre", "address", "section",
                    "article", "aside", "header", "footer", "nav", "main", "figure", "figcaption", "form",
                    "fieldset", "legend", "center", "hr", "body", "html", "details", "summary"})
_CELLS = frozenset({"td", "th"})
_LINES = frozenset({"tr", "li", "dt", "dd", "div", "body", "html", "thead", "tbody", "tfoot", "caption", "legend",
                    "summary", "figcaption", "nav", "header", "footer", "main", "section", "article", "aside"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_NL = "\n"
_TAB = "\t"


@dataclass
class HtmlText:
    text: str
    cids: set[str] = field(default_factory=set)  # Content-IDs of images the body shows (lower case, no <>)


def html_to_text(markup: str) -> HtmlText:
    """The readable text of an HTML document or fragment, and the ``cid:`` images it shows."""
    if not markup.strip():
        return HtmlText("")
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True,
                                  no_network=True)
    try:
        root = lxml.html.document_fromstring(markup.encode("utf-8", "surrogatepass"), parser=parser)
    except (etree.ParserError, ValueError):  # nothing but comments or white space
        return HtmlText(_tidy(_scan(markup)))
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):  # stopped early: too deep
        return HtmlText(_tidy(_scan(markup)), _cids(root))
    return _walk(root)


def _walk(root: etree._Element) -> HtmlText:
    out: list[str] = []
    cids: set[str] = set()
    dropped = 0  # how many dropped elements (script, style, head …) we are inside
    pre = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _DROP:
                dropped += 1
            if dropped:
                continue
            if tag == "pre":
                pre += 1
            if tag == "br":
                out.append(_NL)
            elif tag in _BLOCK:
                _break(out, tag)
            elif tag == "img":
                src = (el.get("src") or "").strip()
                if src[:4].lower() == "cid:":
                    cids.add(src[4:].strip("<> ").lower())
            if el.text:
                out.append(el.text if pre else _SPACES.sub(" ", el.text))
        else:
            if tag in _DROP:
                dropped -= 1
            elif not dropped:
                if tag in _BLOCK:
                    _break(out, tag)
                elif tag in _CELLS:
                    out.append(_TAB)
                if tag == "pre":
                    pre -= 1
            if not dropped and el.tail and el is not root:
                out.append(el.tail if pre else _SPACES.sub(" ", el.tail))
    return HtmlText(_tidy("".join(out)), cids)


def _break(out: list[str], tag: str) -> None:
    """A line break; a paragraph (p, headings, tables, lists) may leave an empty line, a row or item not."""
    if tag not in _LINES or not out or out[-1] != _NL:
        out.append(_NL)


def _tidy(text: str) -> str:
    """Lines without padding, at most one empty line between paragraphs."""
    lines = [line.strip(" ").replace("\t ", "\t").replace(" \t", "\t").strip("\t") if line.strip() else ""
             for line in text.replace("\u00a0", " ").split(_NL)]
    return _BLANK_LINES.sub("\n\n", _NL.join(lines)).strip()


def _cids(root: etree._Element) -> set[str]:
    found = set()
    for img in root.iter("img"):
        src = (img.get("src") or "").strip()
        if src[:4].lower() == "cid:":
            found.add(src[4:].strip("<> ").lower())
    return found


def cid_references(markup: str) -> set[str]:
    """The ``cid:`` images an HTML body shows, by a linear search for ``src="cid:…"`` (without parsing the
    body's text: for the meta of an e-mail, which needs only to know which attached images are shown)."""
    found: set[str] = set()
    lower = markup.lower()
    at = lower.find("cid:")
    while at >= 0 and len(found) < 1000:
        end = at + 4
        while end < len(lower) and end - at < 300 and lower[end] not in "\"' >":
            end += 1
        if lower[max(0, at - 6):at].rstrip("\"' =").endswith("src") or "src" in lower[max(0, at - 8):at]:
            found.add(lower[at + 4:end].strip("<> "))
        at = lower.find("cid:", end)
    return found


def _scan(markup: str) -> str:
    """Text outside tags, in one pass with ``str.find`` (linear), for what the parser cannot take.

    A ``<`` that opens no tag (no ``>`` follows) is text; script and style contents are skipped."""
    out: list[str] = []
    lower = markup.lower()
    i, n = 0, len(markup)
    while i < n:
        j = markup.find("<", i)
        if j < 0:
            out.append(_SPACES.sub(" ", markup[i:]))
            break
        out.append(_SPACES.sub(" ", markup[i:j]))
        k = markup.find(">", j + 1)
        if k < 0:  # no tag closes: the rest is text (a flood of '<' ends here, in one step)
            out.append(_SPACES.sub(" ", markup[j:]))
            break
        name = lower[j + 1:k].lstrip("/").split(None, 1)[0] if k > j + 1 else ""
        name = name.rstrip("/")
        if name in ("script", "style") and not lower.startswith("</", j):
            close = lower.find(f"</{name}", k)
            if close < 0:
                break
            k = lower.find(">", close)
            if k < 0:
                break
        elif name == "br" or name in _BLOCK:
            out.append(_NL)
        elif name in _CELLS and lower.startswith("</", j):
            out.append(_TAB)
        i = k + 1
    return htmllib.unescape("".join(out))
