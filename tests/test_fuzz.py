"""Property fuzzing with Hypothesis (bounded examples, so it stays fast): e-mail parsing, type
sniffing, and the supervisor-edited YAML loaders never fail with anything but a typed error."""

from __future__ import annotations

import copy
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ground.errors import ConfigError, MailroomError
from ground.records import Part
from ground.settings import CONFIG_DIR
from intake.parts import explode
from ocr import sniff_type
from queues.routing import RuleSet, load_rules
from queues.sla import SlaPolicies, load_policies

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/tiff", "image/gif", "image/bmp", "image/webp",
               "message/rfc822", "application/vnd.ms-outlook", "text/plain"}
PREFIXES = [b"", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"GIF89a", b"BM",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"From: a@b.c\r\nSubject: x\r\n\r\n", b"PK\x03\x04"]

header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
name_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40)
payload = st.one_of(st.binary(max_size=400),
                    st.builds(lambda p, b: p + b, st.sampled_from(PREFIXES), st.binary(max_size=300)))


@st.composite
def mime_tree(draw: st.DrawFn, depth: int = 0) -> EmailMessage:
    msg = EmailMessage()
    for name in draw(st.lists(st.sampled_from(["From", "To", "Subject", "Date", "Message-ID", "X-Junk"]),
                              max_size=4, unique=True)):
        try:
            msg[name] = draw(header_text)
        except (ValueError, TypeError, IndexError):  # the stdlib refuses (or trips over) some header values
            pass
    kind = draw(st.sampled_from(["text", "html", "binary", "multipart", "rfc822"] if depth < 4 else ["text"]))
    if kind == "text":
        msg.set_content(draw(st.text(max_size=200)))
    elif kind == "html":
        msg.set_content(draw(st.text(max_size=200)), subtype="html")
    elif kind == "binary":
        msg.set_content(draw(payload), maintype=draw(st.sampled_from(["application", "image"])),
                        subtype=draw(st.sampled_from(["pdf", "png", "octet-stream", "zip", "tiff"])),
                        filename=draw(name_text) or None)
    elif kind == "rfc822":
        msg.set_content(draw(mime_tree(depth + 1)))
    else:
        msg.set_content(draw(st.text(max_size=50)))
        for _ in range(draw(st.integers(1, 3))):
            child = draw(mime_tree(depth + 1))
            if child.get_content_maintype() == "multipart":
                continue
            msg.add_attachment(child.get_payload(decode=True) or b"", maintype=child.get_content_maintype(),
                               subtype=child.get_content_subtype(),
                               filename=child.get_filename() or draw(name_text) or "x")
    return msg


def _check_parts(parts: list[Part]) -> None:
    assert isinstance(parts, list)
    for part in parts:
        assert isinstance(part, Part) and isinstance(part.data, bytes) and isinstance(part.name, str)


@FAST
@given(mime_tree())
def test_explode_random_mime_trees(msg: EmailMessage) -> None:
    try:
        raw = msg.as_bytes()
    except (ValueError, TypeError, UnicodeError, LookupError):
        return  # the standard library could not serialise what Hypothesis built: not our input
    try:
        _check_parts(explode(raw, "message/rfc822", "fuzz.eml"))
    except MailroomError as exc:
        assert exc.reason


@FAST
@given(st.binary(max_size=2000), st.sampled_from(["message/rfc822", "application/pdf", "text/plain", "image/png"]))
def test_explode_random_bytes(data: bytes, ctype: str) -> None:
    try:
        _check_parts(explode(data, ctype, "fuzz"))
    except MailroomError as exc:
        assert exc.reason


@FAST
@given(payload, st.text(max_size=30))
def test_sniff_type_returns_a_known_type_or_a_typed_error(data: bytes, name: str) -> None:
    try:
        assert sniff_type(data, name) in KNOWN_TYPES
    except MailroomError as exc:
        assert exc.reason and "\n" not in exc.reason[:200]


yaml_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                      st.text(max_size=30), st.sampled_from(["(a+)+$", "[", "*", "08:00-16:00", "30d", "P1D", "x"]))
yaml_value = st.recursive(yaml_leaf, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                             st.dictionaries(st.text(max_size=12), kids, max_size=4)),
                          max_leaves=12)


def _mutate(doc: Any, draw: st.DrawFn) -> Any:
    """One random edit deep inside a valid configuration: delete, replace or retype a value."""
    doc = copy.deepcopy(doc)
    node = doc
    for _ in range(draw(st.integers(0, 4))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
            if draw(st.booleans()) and isinstance(node[key], dict | list):
                node = node[key]
                continue
            action = draw(st.sampled_from(["delete", "replace"]))
            if action == "delete":
                del node[key]
            else:
                node[key] = draw(yaml_value)
            return doc
        if isinstance(node, list) and node:
            index = draw(st.integers(0, len(node) - 1))
            if isinstance(node[index], dict | list):
                node = node[index]
                continue
            node[index] = draw(yaml_value)
            return doc
        break
    return draw(yaml_value) if draw(st.integers(0, 9)) == 0 else doc


def _load(loader, text: str) -> Any:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return loader(path)


ROUTING = yaml.safe_load((CONFIG_DIR / "routing.yaml").read_text(encoding="utf-8"))
SLA = yaml.safe_load((CONFIG_DIR / "sla.yaml").read_text(encoding="utf-8"))


@FAST
@given(st.data())
def test_routing_loader_mutated_configs(data: st.DataObject) -> None:
    text = yaml.safe_dump(_mutate(ROUTING, data.draw), allow_unicode=True)
    try:
        assert isinstance(_load(load_rules, text), RuleSet)
    except ConfigError as exc:
        assert exc.reason


@FAST
@given(st.data())
def test_sla_loader_mutated_configs(data: st.DataObject) -> None:
    text = yaml.safe_dump(_mutate(SLA, data.draw), allow_unicode=True)
    try:
        assert isinstance(_load(load_policies, text), SlaPolicies)
    except ConfigError as exc:
        assert exc.reason


@FAST
@given(st.text(max_size=300))
def test_loaders_random_text(text: str) -> None:
    for loader, model in ((load_rules, RuleSet), (load_policies, SlaPolicies)):
        try:
            assert isinstance(_load(loader, text), model)
        except ConfigError as exc:
            assert exc.reason
