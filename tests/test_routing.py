from __future__ import annotations

from pathlib import Path

import pytest

from ground.errors import ConfigError
from ground.records import CATEGORIES, Classification
from ground.settings import CONFIG_DIR
from queues.routing import RuleSet, load_rules, route

SHIPPED = CONFIG_DIR / "routing.yaml"

BASE = """
default_queue: triage
default_priority: 5
low_confidence_queue: triage
confidence_threshold: 0.5
regex_timeout: 0.2
queues:
  - {id: triage, name: Triage}
  - {id: a, name: A}
  - {id: b, name: B}
rules:
"""


def rules_from(tmp_path: Path, body: str) -> RuleSet:
    p = tmp_path / "routing.yaml"
    p.write_text(BASE + body, encoding="utf-8")
    return load_rules(p)


def cls(
    category: str = "complaint",
    confidence: float = 0.9,
    language: str = "pl",
    segment: str = "individual",
    entities: dict[str, list[str]] | None = None,
) -> Classification:
    return Classification(
        language=language, category=category, confidence=confidence, entities=entities or {}, segment=segment
    )


def test_first_match_wins(tmp_path: Path) -> None:
    rs = rules_from(
        tmp_path,
        """
  - {name: first, when: {category: [complaint]}, queue: a, priority: 10}
  - {name: second, when: {category: [complaint]}, queue: b, priority: 99}
""",
    )
    r = route(cls(), "scan", "", rs)
    assert (r.queue, r.priority, r.rule) == ("a", 10, "first")
    assert "first" in r.reasons[-1]


def test_default_when_nothing_matches(tmp_path: Path) -> None:
    rs = rules_from(tmp_path, "  - {name: only, when: {category: [legal]}, queue: a, priority: 10}\n")
    r = route(cls("payment"), "email", "", rs)
    assert (r.queue, r.priority, r.rule) == ("triage", 5, "default")


def test_low_confidence_goes_to_triage_before_any_rule(tmp_path: Path) -> None:
    rs = rules_from(tmp_path, "  - {name: all, queue: a, priority: 10}\n")
    r = route(cls(confidence=0.49), "scan", "", rs)
    assert (r.queue, r.rule) == ("triage", "low-confidence")
    assert "0.49" in r.reasons[0]
    assert route(cls(confidence=0.5), "scan", "", rs).rule == "all"


@pytest.mark.parametrize(
    ("when", "hit", "miss"),
    [
        ("{category: [payment, invoice_query]}", dict(c=cls("payment")), dict(c=cls("complaint"))),
        ("{language: [cs]}", dict(c=cls(language="cs")), dict(c=cls(language="pl"))),
        ("{channel: [fax]}", dict(channel="fax"), dict(channel="email")),
        ("{segment: business}", dict(c=cls(segment="business")), dict(c=cls(segment="individual"))),
        ("{min_confidence: 0.8}", dict(c=cls(confidence=0.8)), dict(c=cls(confidence=0.79))),
        (
            "{entity: [customer_id, invoice_no]}",
            dict(c=cls(entities={"customer_id": ["MR-1234567"], "invoice_no": ["FV/2026/10/004512"]})),
            dict(c=cls(entities={"customer_id": ["MR-1234567"], "invoice_no": []})),
        ),
        ("{text_matches: 'komornik\\w*'}", dict(text="Pismo od KOMORNIKA sądowego"), dict(text="zwykły list")),
    ],
)
def test_each_condition(tmp_path: Path, when: str, hit: dict, miss: dict) -> None:
    rs = rules_from(tmp_path, f"  - {{name: r, when: {when}, queue: a, priority: 10}}\n")

    def run(kw: dict) -> str:
        return route(kw.get("c", cls()), kw.get("channel", "scan"), kw.get("text", ""), rs).rule

    assert run(hit) == "r"
    assert run(miss) == "default"


def test_catastrophic_regex_is_bounded_and_flagged(tmp_path: Path) -> None:
    rs = rules_from(
        tmp_path,
        """
  - {name: redos, when: {text_matches: '(a+)+$'}, queue: a, priority: 10}
  - {name: fallback, queue: b, priority: 1}
""",
    )
    text = "a" * 200_000 + "!"
    r = route(cls(), "scan", text, rs)  # cut off at regex_timeout; the time: `python -m bench.budgets redos`
    assert r.rule == "fallback"
    assert any("redos" in x and "skipped" in x for x in r.reasons)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  - {name: x, when: {category: [invoice]}, queue: a, priority: 1}\n", ["rule #1 'x'", "category", "invoice"]),
        ("  - {name: x, queue: nowhere, priority: 1}\n", ["'x'", "nowhere", "queues list"]),
        ("  - {name: x, when: {catgory: [legal]}, queue: a, priority: 1}\n", ["rule #1 'x'", "catgory", "unknown key"]),
        ("  - {name: x, when: {text_matches: '(unclosed'}, queue: a, priority: 1}\n", ["rule #1 'x'", "compile"]),
        ("  - {name: x, queue: a}\n", ["rule #1 'x'", "priority", "missing"]),
        ("  - {name: x, queue: a, priority: 1}\n  - {name: x, queue: b, priority: 2}\n", ["unique", "'x'"]),
        ("  - {name: x, when: {channel: [pigeon]}, queue: a, priority: 1}\n", ["channel", "pigeon", "fax"]),
    ],
)
def test_bad_rules_raise_config_error_naming_file_and_rule(tmp_path: Path, body: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as exc:
        rules_from(tmp_path, body)
    assert "routing.yaml" in exc.value.reason
    for part in expected:
        assert part in exc.value.reason


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "routing.yaml"
    p.write_text("rules:\n  - name: x\n   queue: a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"routing\.yaml: not valid YAML at line \d+"):
        load_rules(p)
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "absent.yaml")
    p.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_rules(p)


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_rules(SHIPPED)


EXPECTED = {
    "complaint": "complaints",
    "invoice_query": "billing",
    "payment": "billing",
    "cancellation": "retention",
    "service_order": "sales",
    "fault_report": "technical",
    "data_change": "customer-data",
    "number_porting": "customer-data",
    "legal": "legal",
    "gdpr_request": "privacy",
    "other": "triage",
}


@pytest.mark.parametrize("category", CATEGORIES)
def test_shipped_config_routes_every_category(shipped: RuleSet, category: str) -> None:
    r = route(cls(category), "scan", "Dzień dobry, piszę w sprawie mojej umowy.", shipped)
    assert r.queue == EXPECTED[category]
    assert r.rule not in ("default", "low-confidence")
    assert shipped.queue(r.queue).name


def test_shipped_config_courts_and_regulators_first(shipped: RuleSet) -> None:
    texts = {
        "pl": "Sąd Rejonowy dla Warszawy-Mokotowa, I Wydział Cywilny, nakaz zapłaty",
        "cs": "Exekutorský úřad Praha 4, soudní exekutor, usnesení o nařízení exekuce",
        "ru": "Мировой судья судебного участка № 5, судебный приказ",
        "en": "Letter from Ofcom regarding consumer complaint",
    }
    top = max(r.priority for r in shipped.rules)
    for lang, text in texts.items():
        r = route(cls("legal", language=lang), "scan", text, shipped)
        assert (r.queue, r.rule, r.priority) == ("legal", "courts-and-regulators", top), lang
    lawyer = route(cls("legal"), "email", "Kancelaria adwokacka, wezwanie do zapłaty", shipped)
    assert lawyer.rule == "legal-other" and lawyer.priority < top


def test_shipped_config_business_complaints(shipped: RuleSet) -> None:
    biz = route(cls("complaint", segment="business"), "email", "", shipped)
    ind = route(cls("complaint"), "email", "", shipped)
    assert biz.queue == "business" and ind.queue == "complaints" and biz.priority > ind.priority


def test_shipped_config_low_confidence(shipped: RuleSet) -> None:
    r = route(cls("legal", confidence=0.2), "scan", "Sąd Rejonowy", shipped)
    assert (r.queue, r.rule) == ("triage", "low-confidence")
