"""The path the Docker image takes, without Docker: build the wheel, install it (not editable) into a fresh
virtual environment, and from an empty directory run ``mailroom process`` on a scan and an e-mail, then start
``mailroom serve``. It fails when the wheel lacks a module, the default configuration, the migrations, the
model, the templates or the static files.

The fresh environment gets its third-party packages from the test environment's site-packages (a path in a
``.pth`` file, so the test installs nothing from the network); the editable install of the source tree is not
visible there, which the test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
# the packages pyproject.toml ships (so a new package cannot be forgotten here), and the files the build reads
PACKAGES = [p.rstrip("*") for p in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
            ["packages"]["find"]["include"]]
SOURCES = (*PACKAGES, "pyproject.toml", "README.md")

pytestmark = pytest.mark.slow


def _build_wheel(out: Path) -> Path:
    """A wheel built from a copy of the sources (the working tree as it is, uncommitted changes included)."""
    src = out / "src"
    src.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out / "dist"),
                           str(src)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (out / "dist").glob("mailroom-*.whl")
    return wheel


def _fresh_venv(where: Path, wheel: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    site = Path(subprocess.run([str(where / "bin" / "python"), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
                           "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    script = where / "bin" / "mailroom"
    script.write_text(f"#!{where / 'bin' / 'python'}\nimport sys\nfrom mailroom.cli import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    return site


def test_wheel_installs_and_runs_from_an_empty_directory(tmp_path: Path) -> None:
    from corpus.generate import generate

    letters = tmp_path / "letters"
    truth = generate(letters, seed=5, count=5, forms=["scan_png", "eml"])
    scan = next(letters / r["file"] for r in truth if r["file"].endswith(".png"))
    mail = next(letters / r["file"] for r in truth if r["file"].endswith(".eml"))

    wheel = _build_wheel(tmp_path / "build")
    venv = tmp_path / "venv"
    site = _fresh_venv(venv, wheel)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILROOM_", "PYTHON"))}
    env.update(MAILROOM_DATA=str(tmp_path / "data"), OMP_THREAD_LIMIT="1")

    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import ground.settings, mailroom; "
                            "print(mailroom.__file__); print(ground.settings.Settings().routing_rules)"],
                           cwd=empty, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    module_file, rules = where.stdout.split()
    assert Path(module_file).is_relative_to(site), module_file  # the wheel, not the source tree
    assert Path(rules).is_relative_to(site) and Path(rules).is_file(), rules  # default rules are package data

    done = subprocess.run([str(venv / "bin" / "mailroom"), "process", "--json", str(scan), str(mail)], cwd=empty,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["source"] for line in lines] == [str(scan), str(mail)]
    for line, rec in zip(lines, [r for r in truth if r["file"] in (scan.name, mail.name)], strict=True):
        assert line["category"] and line["queue"] and line["language"] == rec["documents"][0]["language"]
    assert list(empty.iterdir()) == []  # nothing written to the current directory

    port = free_port()
    log = tmp_path / "serve.log"
    env.update(MAILROOM_PORT=str(port), MAILROOM_SECRET_KEY="wheel-test-" + "q7Vz3kLm9xR2tW8pA4bN6cD1")
    with open(log, "w") as out:
        proc = subprocess.Popen([str(venv / "bin" / "mailroom"), "serve"], cwd=empty, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up() -> bool:
            assert proc.poll() is None, f"mailroom serve exited:\n{log.read_text()[-3000:]}"
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200 and answer.json()["redis"] == "ok"

        wait_until(up, 120, "the installed mailroom serve to answer")
        page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
        assert page.status_code == 200 and "<form" in page.text  # templates travel in the wheel
        static = httpx.get(f"http://127.0.0.1:{port}/static/vendor/htmx.min.js", timeout=10)
        assert static.status_code == 200 and len(static.content) > 1000
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
