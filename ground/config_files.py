"""Loading the YAML files a supervisor edits (routing, SLA, entities): every problem is a ConfigError
that names the file, the item and what to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ground.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _describe_loc(raw: Any, loc: tuple[int | str, ...], sections: dict[str, str]) -> str:
    """Turn a pydantic error location into words: ``rule #3 'billing', when.category[0]``."""
    if len(loc) >= 2 and loc[0] in sections and isinstance(loc[1], int):
        items = raw.get(loc[0]) if isinstance(raw, dict) else None
        name = None
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            name = items[loc[1]].get("name") or items[loc[1]].get("id")
        head = f"{sections[loc[0]]} #{loc[1] + 1}" + (f" {name!r}" if name else "")
        rest = loc[2:]
    elif len(loc) >= 2 and loc[0] in sections:  # a mapping keyed by name (e.g. calendars)
        head, rest = f"{sections[loc[0]]} {loc[1]!r}", loc[2:]
    else:
        head, rest = "top level", loc
    path = ""
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{head}, {path}" if path else head


def load_yaml_model(path: Path, model: type[M], sections: dict[str, str]) -> M:
    """Parse and validate a supervisor-edited YAML file; every problem becomes a ConfigError
    that names the file, the item and what to fix. ``sections`` names list/mapping keys
    (``{"rules": "rule"}``) so errors say ``rule #3 'billing'`` rather than ``rules.2``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror}); check the path in settings") from exc
    return parse_yaml_model(text, str(path), model, sections)


def parse_yaml_model(text: str, path: str, model: type[M], sections: dict[str, str]) -> M:
    """``load_yaml_model`` for text already in hand (a version stored in the database, an edit in the
    browser); ``path`` names it in the errors."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}; check indentation and quoting") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (a typo?); remove it or fix its spelling"
            elif err["type"] == "missing":
                msg = "required but missing; add it"
            problems.append(f"{_describe_loc(raw, err['loc'], sections)}: {msg}")
        raise ConfigError(f"{path}: " + "; ".join(problems)) from exc
