"""The review UI in a real headless Chromium against the real service under uvicorn.

A reviewer logs in with an API key, sees the queue, opens items, releases one and confirms
another into a bank; the results are then checked through the HTTP API (audit log, bank
lookup). Needs the system ``chromium`` and ``chromedriver`` (Debian packages ``chromium``
and ``chromium-driver``; scripts/test.sh installs them when run as root) and Selenium; the
test is skipped, saying which is missing, without them. No browser is ever downloaded.

Set ``DEEPSCREEN_UPDATE_SCREENSHOT=1`` to also refresh docs/review-queue.png.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install -e '.[test]')")

from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from deepscreen.store import Database  # noqa: E402
from deepscreen.store import keys as api_keys  # noqa: E402

from media_factory import image_bytes  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "review-queue.png"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--window-size=1280,900")

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveService:
    url: str
    keys: dict[str, str]

    def api(self, method: str, path: str, role: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", timeout=30,
                             headers={"Authorization": f"Bearer {self.keys[role]}"},
                             **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def live_service(tmp_path: Path) -> Iterator[LiveService]:
    """``deepscreen serve`` (uvicorn) on 127.0.0.1 and a free port, a fresh SQLite store, one
    key per role."""
    home = tmp_path / "home"
    database = f"sqlite:///{tmp_path / 'service.sqlite'}"
    db = Database(database)
    db.upgrade()
    keys = {}
    with db.session() as session:
        for role, name in (("submitter", "uploader"), ("reviewer", "ann"), ("admin", "ops")):
            keys[role], _ = api_keys.create_key(session, name, role, actor="test")
    db.dispose()
    config = tmp_path / "scan.yaml"
    config.write_text("signals: [hashes]\n")
    port = _free_port()
    env = {**os.environ, "DEEPSCREEN_HOME": str(home), "DEEPSCREEN_DATABASE_URL": database,
           "DEEPSCREEN_CONFIG": str(config), "DEEPSCREEN_RATE_PER_S": "0",
           "DEEPSCREEN_WEBHOOK_SECRET": "s"}
    env.pop("DEEPSCREEN_BROKER_URL", None)
    log = (tmp_path / "uvicorn.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "deepscreen", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("service did not start: "
                                     f"{(tmp_path / 'uvicorn.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield LiveService(url=url, keys=keys)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.skip(f"no {' or '.join(missing)}: install the Debian packages chromium and "
                    "chromium-driver (scripts/test.sh does as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=ChromeService(executable_path=CHROMEDRIVER),
                              options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _seed(service: LiveService) -> dict[str, str]:
    """Three quarantined items via the API; returns name -> sha256."""
    assert service.api("POST", "/v1/banks", "admin", json={"name": "ncii"}).status_code == 201
    assert service.api("POST", "/v1/banks", "admin",
                       json={"name": "partner-csam"}).status_code == 201
    known = image_bytes("jpeg", width=320, height=240, seed=11)
    added = service.api("POST", "/v1/banks/ncii/entries", "admin", json={"entries": [
        {"signal_type": "sha256", "value": hashlib.sha256(known).hexdigest()}]})
    assert added.status_code == 200, added.text
    items = {"reported-photo.jpg": known,
             "broken <b>upload</b>.bin": b"\x00\x01 not any media type " * 40,
             "clip-from-partner.jpg": image_bytes("jpeg", width=256, height=256, seed=12)[:900]}
    for name, data in items.items():
        answer = service.api("POST", "/v1/scans", "submitter", files={"file": (name, data)})
        assert answer.status_code == 200 and answer.json()["quarantined"], answer.text
    return {name: hashlib.sha256(data).hexdigest() for name, data in items.items()}


def _open_item(driver: webdriver.Chrome, name: str) -> None:
    driver.find_element(By.LINK_TEXT, "Deepscreen review").click()
    driver.find_element(By.LINK_TEXT, name).click()
    WebDriverWait(driver, 20).until(ec.text_to_be_present_in_element((By.ID, "item-name"),
                                                                     name))


def _decide(driver: webdriver.Chrome, form_id: str, reason: str, bank: str | None = None
            ) -> None:
    form = driver.find_element(By.ID, form_id)
    if bank is not None:
        Select(form.find_element(By.NAME, "bank")).select_by_visible_text(bank)
    form.find_element(By.NAME, "reason").send_keys(reason)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "notice")))


def test_reviewer_releases_and_confirms_in_the_browser(live_service: LiveService,
                                                       browser: webdriver.Chrome,
                                                       tmp_path: Path) -> None:
    hashes = _seed(live_service)
    driver = browser

    # Not logged in: sent to the login form; log in with the reviewer's key.
    driver.get(f"{live_service.url}/ui/queue")
    assert driver.current_url.endswith("/ui/login")
    driver.find_element(By.ID, "api_key").send_keys(live_service.keys["reviewer"])
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "queue")))

    rows = driver.find_elements(By.CSS_SELECTOR, "#queue tr")[1:]
    names = {row.find_element(By.TAG_NAME, "a").text for row in rows}
    assert names == set(hashes)  # the hostile name is shown as text, not markup
    shot = tmp_path / "review-queue.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("DEEPSCREEN_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)

    # The blocked image: its bank match and the image itself are on the page.
    _open_item(driver, "reported-photo.jpg")
    assert "ncii" in driver.find_element(By.ID, "bank-matches").text
    preview = driver.find_element(By.CSS_SELECTOR, ".preview img")
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return arguments[0].complete", preview))
    assert driver.execute_script("return arguments[0].naturalWidth", preview) == 320

    # Release the unscannable upload, with a reason.
    _open_item(driver, "broken <b>upload</b>.bin")
    _decide(driver, "form-release", "a corrupt export from our own CMS, not abuse")
    assert driver.find_element(By.ID, "state").text == "released"

    # Confirm the partner's image into the partner bank.
    _open_item(driver, "clip-from-partner.jpg")
    _decide(driver, "form-confirm", "matches the partner's report #4411", bank="partner-csam")
    assert driver.find_element(By.ID, "state").text == "confirmed"
    assert "partner-csam" in driver.find_element(By.ID, "decisions").text

    # What the browser did, as the API sees it.
    audit = [line for line in live_service.api("GET", "/v1/audit", "admin").text.splitlines()
             if '"actor": "ann"' in line]
    assert any('"action": "review.release"' in line and "corrupt export" in line
               for line in audit)
    assert any('"action": "review.confirm"' in line and "partner-csam" in line
               for line in audit)
    assert any('"action": "review.login"' in line for line in audit)
    assert any('"action": "review.view-media"' in line for line in audit)
    lookup = live_service.api("GET", "/v1/banks/lookup", "admin", params={
        "type": "sha256", "value": hashes["clip-from-partner.jpg"]})
    assert lookup.status_code == 200, lookup.text
    assert [m["bank"] for m in lookup.json()["matches"]] == ["partner-csam"]
    held = live_service.api("GET", "/v1/review", "reviewer", params={"state": "held"}).json()
    assert [e["source_name"] for e in held["entries"]] == ["reported-photo.jpg"]
