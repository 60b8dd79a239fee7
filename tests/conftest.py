"""Shared fixtures: a private data directory per test, a generated corpus per session, and a
real redis-server on a unix socket started by the project's own code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from ground.settings import Settings, get_settings  # noqa: E402
from pipeline.context import Context, get_context  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A private data directory, also seen by code that reads the settings itself (rq jobs)."""
    monkeypatch.setenv("MAILROOM_DATA", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def ctx(settings: Settings) -> Context:
    return get_context(settings)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """44 generated files covering every form, language and category (seed 11)."""
    import fcntl

    from corpus.generate import generate

    # Generated once per run, even with pytest-xdist (its workers share the base temp dir's parent).
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else \
        tmp_path_factory.getbasetemp()
    out = shared / "corpus-seed11"
    with open(shared / "corpus-seed11.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "manifest.json").exists():
            generate(out, seed=11, count=44)
    return out


@pytest.fixture
def redis_settings(settings: Settings) -> Iterator[Settings]:
    """Settings whose embedded redis-server is running (stopped after the test)."""
    from mailroom.services import start_redis

    settings.data.mkdir(parents=True, exist_ok=True)
    proc = start_redis(settings)
    try:
        yield settings
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the whole session (Debian package, private port)."""
    from tests.support.servers import postgres_server

    with postgres_server() as url:
        yield url


CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright never downloads a browser here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (APT_PACKAGES)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
