"""Secrets (RELIABILITY.md "secrets"): ``mailroom serve``/``api`` refuse to start with a well-known
default or example key, or one shorter than 32 characters, with a message saying what to do — before
starting anything (no redis-server, no port)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from ground.settings import MIN_SECRET_LENGTH, secret_problem
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("key", ["changeme", "secret", "CHANGEME", " secret ", "your-secret-key", "password",
                                 "changeme" + "0" * 40, "supersecret" + "!" * 30, "Kq3-short-but-random",
                                 "x" * (MIN_SECRET_LENGTH - 1)])
def test_weak_keys_are_named(key: str) -> None:
    assert secret_problem(key) is not None


@pytest.mark.parametrize("key", [secrets.token_urlsafe(32), secrets.token_hex(32),
                                 "secretary-" + secrets.token_hex(16)],
                         ids=["urlsafe", "hex", "word-and-hex"])  # random values: stable ids for pytest-xdist
def test_random_keys_pass(key: str) -> None:
    assert secret_problem(key) is None


@pytest.mark.parametrize(("command", "key", "says"), [
    (["serve"], "changeme", "a well-known default"),
    (["api"], "secret", "a well-known default"),
    (["serve", "--workers", "2"], "Kq3-short-but-random", "20 characters long; use at least 32"),
    (["serve", "--demo"], "changeme", "a well-known default"),  # --demo only makes one up when none is set
])
def test_start_up_is_refused_with_a_clear_message(tmp_path: Path, command: list[str], key: str, says: str) -> None:
    data = tmp_path / "data"
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_PORT=str(free_port()), MAILROOM_SECRET_KEY=key)
    done = subprocess.run([sys.executable, "-m", "mailroom.cli", *command], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, (done.returncode, done.stderr[-800:])
    assert f"MAILROOM_SECRET_KEY is {says}" in done.stderr and "secrets.token_urlsafe(32)" in done.stderr, done.stderr
    assert len(key) < 12 or key not in done.stderr  # the key itself is not echoed
    assert not (data / "redis.sock").exists() and not (data / "mailroom.db").exists()  # nothing started
