"""Issue 19's journey for the category model, in Debian's Chromium against a real ``mailroom serve`` with two
workers: an admin trains a model from the page, compares it with the one in force, promotes it, and rolls back;
the workers classify with each version in turn, as the model version recorded on new documents shows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.support.pages import PASSWORD, Served, served, sign_in, upload, wait_routed
from tests.test_a11y import serious, shot

RELOAD = 2.0  # MAILROOM_CONFIG_RELOAD_SECONDS as shipped


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("models"), routed_letter=False, args=("--workers", "2")) as s:
        yield s


def _classified_by(base: str, out: Path, n: int) -> str:
    """Upload a complaint by e-mail; the model version its document records."""
    msg = EmailMessage()
    msg["From"] = f"klient{n}@example.pl"
    msg["To"] = "reklamacje@telewave.example"
    msg["Subject"] = f"Reklamacja {n}"
    msg.set_content(f"Dzień dobry,\n\nskładam reklamację faktury nr {n} za internet: naliczono opłatę za usługę, "
                    "której nie zamawiałem. Proszę o korektę.\n\nZ poważaniem\nJan Nowak\n")
    path = out / f"complaint{n}.eml"
    path.write_bytes(msg.as_bytes())
    doc = wait_routed(base, upload(base, path), timeout=180)["documents"][0]
    return str(doc["model_version"])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_admin_trains_compares_promotes_and_rolls_back_a_model(server: Served, browser,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    base = server.base
    shipped = httpx.get(f"{base}/api/models", auth=("boss", PASSWORD), timeout=10).json()["shipped"]
    assert shipped and _classified_by(base, tmp_path, 1) == shipped
    page = sign_in(browser, base, "root")
    page.goto("/admin/models")
    page.fill("#per-pair", "3")
    page.fill("#epochs", "1")
    with page.expect_navigation():
        page.click("#train")
    assert "Training started" in page.inner_text("p.flash")
    deadline = time.monotonic() + 240
    while page.locator("article.model").count() == 0:  # the worker trains and evaluates it
        assert time.monotonic() < deadline, "the trained model did not appear"
        time.sleep(2)
        page.goto("/admin/models")
    model = page.locator("article.model").first
    version = model.get_attribute("data-version")
    assert version and version != shipped
    row = model.locator("tr[data-set='independent'][data-metric='macro_f1']")
    active, candidate = (float(row.locator(f"td.{c}").inner_text()) for c in ("active", "candidate"))
    # each model's own figure, shown side by side (which is higher depends on the training data: since the
    # larger supplement, a 3-letters-per-pair candidate can score above the shipped model on this set)
    assert 0 < candidate <= 1 and 0 < active <= 1 and candidate != active
    assert not serious(page)
    shot(page, "models")

    with page.expect_navigation():
        model.locator("button.promote").click()
    assert f"Model {version} is in force" in page.inner_text("p.flash")
    time.sleep(RELOAD + 1)
    assert [_classified_by(base, tmp_path, n) for n in (2, 3, 4)] == [version] * 3

    with page.expect_navigation():
        page.click("#model-rollback")
    assert f"model {shipped} is in force again" in page.inner_text("p.flash")
    time.sleep(RELOAD + 1)
    assert [_classified_by(base, tmp_path, n) for n in (5, 6)] == [shipped] * 2
    actions = [a["action"] for a in httpx.get(f"{base}/api/models", auth=("audit", PASSWORD), timeout=10)
               .json()["activations"]]
    assert actions == ["rolled_back", "promoted"]
