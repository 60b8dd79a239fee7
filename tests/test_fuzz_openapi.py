"""schemathesis over every operation of the OpenAPI schema, in-process against the ASGI app, as an
authenticated supervisor: no 5xx, and every documented JSON response matches its schema."""

from __future__ import annotations

import base64

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from ground.settings import Settings
from pipeline.context import get_context
from storage.db import session_scope
from storage.models import Role
from storage.users import upsert_user
from web.app import create_app

AUTH = {"Authorization": "Basic " + base64.b64encode(b"fuzz:fuzz-password-1").decode()}


def _fuzz(settings_: Settings, checks: list) -> tuple[int, dict[str, str]]:  # type: ignore[type-arg]
    ctx = get_context(settings_)
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "fuzz", "fuzz-password-1", Role.SUPERVISOR)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(ctx))
    failures: dict[str, str] = {}
    operations = 0
    # schemathesis' pytest plugin does not run under pytest 9, so the operations are driven here
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH, checks=checks)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collected per operation, reported together
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:400]}"
    return operations, failures


def test_no_server_errors_on_any_operation(redis_settings: Settings) -> None:
    operations, failures = _fuzz(redis_settings, [not_a_server_error])
    assert operations >= 20
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


def test_responses_match_the_schema(redis_settings: Settings) -> None:
    _, failures = _fuzz(redis_settings, [response_schema_conformance])
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
