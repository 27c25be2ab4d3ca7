"""`xmc web` in a real browser (Debian's chromium driven headless by Selenium) against a real demo
(`xmc demo`: the simulator and the engine over QuickFIX sessions) on a known control socket.

The page loads and both books and the basis chart move; a control request without the token, or
with a wrong one, is refused and never reaches the engine; a halt from the page reaches the engine
(`xmc status` says HALTED) and is audited as coming through the web view, and the page then shows
why the pair will not trade, the operator's alert, and the positions and tickets by state the
engine has; the view survives the
engine stopping and a new one starting. Without Chromium these tests skip, unless
``XMC_REQUIRE_BROWSER=1`` (``.ci/run`` sets it): then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import ROOT, wait_until
from xmc_fix.demo import free_ports
from xmc_fix.procutil import stop_child

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = os.environ.get("XMC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("XMC_CHROMEDRIVER", "/usr/bin/chromedriver")
# As root and without a network: no sandbox, no GPU, and none of Chromium's calls home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1600,1200"]
PAIR = "CU_SHFE_LME"


def _xmc(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", os.devnull, *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def _status(sock: Path) -> dict:
    res = _xmc("status", "--socket", str(sock), "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@dataclass
class Demo:
    proc: subprocess.Popen
    sock: Path
    db: str

    def stop(self) -> None:
        stop_child(self.proc, timeout=60)


def start_demo(work: Path, sock: Path, name: str = "demo") -> Demo:
    """`xmc demo` in its own process, long enough for the test, on the control socket ``sock``."""
    db = f"sqlite:///{work / (name + '.db')}"
    log = open(work / f"{name}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "xmc_fix", "--log-file", str(work / f"{name}-xmc.log"), "demo",
                             "--duration", "900", "--db", db, "--control", str(sock), "--work-dir", str(work / name)],
                            stdout=log, stderr=log, cwd=ROOT)
    demo = Demo(proc, sock, db)

    def trading():
        if proc.poll() is not None:
            raise AssertionError(f"xmc demo exited {proc.returncode}: see {work / (name + '.log')}")
        return sock.exists() and _xmc("status", "--socket", str(sock)).returncode == 0 and \
            len(_status(sock)["venues_up"]) == 4

    if not wait_until(trading, timeout=60):
        demo.stop()
        raise AssertionError("the demo engine did not log on to its four venues")
    return demo


@dataclass
class Web:
    proc: subprocess.Popen
    url: str

    def stop(self) -> None:
        stop_child(self.proc, timeout=15)


def start_web(sock: Path, token_file: Path | None = None) -> Web:
    (port,) = free_ports(1)
    args = [sys.executable, "-m", "xmc_fix", "--log-file", os.devnull, "web", "--control", str(sock),
            "--port", str(port)]
    if token_file is not None:
        args += ["--control-token", str(token_file)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, text=True,
                            env={**os.environ, "XMC_PARENT_PID": str(os.getpid())})
    line = proc.stdout.readline()
    if not line.startswith("xmc web: http://127.0.0.1:"):
        stop_child(proc)
        raise AssertionError(f"xmc web did not start: {line!r}")
    return Web(proc, f"http://127.0.0.1:{port}/")


def _post(url: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-XMC-Token"] = token
    req = urllib.request.Request(url + "api/control", data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        why = f"headless Chromium is needed: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
        if os.environ.get("XMC_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    profile = tempfile.mkdtemp(prefix="xmc-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in CHROMIUM_ARGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def work():
    d = Path(tempfile.mkdtemp(prefix="xmcw"))   # Unix socket paths must stay short
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def demo(work):
    d = start_demo(work, work / "c.sock")
    yield d
    d.stop()


@pytest.fixture(scope="module")
def token(work) -> tuple[Path, str]:
    value = "desk-token-" + os.urandom(12).hex()
    p = work / "token"
    p.write_text(value + "\n")
    p.chmod(0o600)
    return p, value


@pytest.fixture(scope="module")
def web(demo, token):
    w = start_web(demo.sock, token[0])
    yield w
    w.stop()


def _text(driver, css: str) -> str:
    """The element's visible text, read in one script call: the page re-renders a few times a
    second, so a located element may be replaced before Selenium reads it."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", css)


def _texts(driver, css: str) -> list[str]:
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)", css)


def _open(driver, url: str) -> None:
    driver.get("about:blank")   # a new document even when only the #fragment differs
    driver.get(url)
    assert wait_until(lambda: _text(driver, "#engine-state") == "live", timeout=20), \
        f"the page never showed the engine live: {_text(driver, '#engine-state')!r}"


def test_the_page_shows_both_books_and_the_basis_chart_moving(browser, web):
    from selenium.webdriver.common.by import By
    _open(browser, web.url)
    for pair, outer in (("CU_SHFE_LME", "LME CA"), ("CU_SHFE_COMEX", "COMEX HG")):
        card = f'[data-pair="{pair}"]'
        assert wait_until(lambda: _text(browser, f"{card} .book[data-leg=outer] h3").startswith(outer))
        assert _text(browser, f"{card} .book[data-leg=inner] h3").startswith("SHFE CU")
        for leg in ("inner", "outer"):
            for side in ("bp", "ap"):
                prices = _texts(browser, f"{card} .book[data-leg={leg}] td.{side}")
                assert len(prices) >= 5 and all(prices[:5]), f"{pair} {leg}: not five levels a side: {prices}"
        assert browser.find_elements(By.CSS_SELECTOR, f"{card} .chart canvas"), "no chart drawn"
        assert "FX" in _text(browser, f"{card} .mid .fx")
    card = f'[data-pair="{PAIR}"]'
    books = lambda: (_text(browser, f"{card} .book[data-leg=inner] table"),  # noqa: E731
                     _text(browser, f"{card} .book[data-leg=outer] table"))
    points = lambda: int(browser.execute_script(  # noqa: E731
        "return document.querySelector(arguments[0]).dataset.points", f"{card} .chart"))
    first, n0 = books(), points()
    assert wait_until(lambda: books()[0] != first[0], timeout=20), "the SHFE book never changed"
    assert wait_until(lambda: books()[1] != first[1], timeout=20), "the LME book never changed"
    assert wait_until(lambda: points() >= n0 + 8, timeout=20), "the basis chart did not grow"
    for way in ("sell", "buy"):
        shown = _text(browser, f"{card} .way.{way} .v").replace(",", "")
        assert shown not in ("", "–"), f"no executable {way} basis shown"
        float(shown)   # a number, signed


def test_a_control_request_without_or_with_a_wrong_token_is_refused(browser, web, demo):
    from selenium.webdriver.common.by import By
    assert _post(web.url, {"cmd": "halt"}, None)[0] == 403
    status, body = _post(web.url, {"cmd": "flatten"}, "not-the-token-0000")
    assert status == 403 and "wrong control token" in body["error"]
    # the page, holding a wrong token, is refused the same way
    _open(browser, web.url + "#token=not-the-token-1111")
    browser.find_element(By.ID, "btn-halt-global").click()
    browser.find_element(By.ID, "confirm-go").click()
    assert wait_until(lambda: "refused (HTTP 403)" in _text(browser, "#toast"), timeout=10), _text(browser, "#toast")
    st = _status(demo.sock)
    assert st["global"]["state"] == "ACTIVE" and all(p["state"] == "ACTIVE" for p in st["pairs"].values()), st


def test_a_read_only_view_shows_no_controls_and_refuses_actions(browser, demo, token):
    from selenium.webdriver.common.by import By
    ro = start_web(demo.sock)
    try:
        _open(browser, ro.url + f"#token={token[1]}")   # even the right token does not unlock it
        assert _text(browser, "#read-only") == "read-only view"
        assert not browser.find_elements(By.CSS_SELECTOR, "button[data-cmd]")
        status, body = _post(ro.url, {"cmd": "halt"}, token[1])
        assert status == 403 and "read-only" in body["error"]
    finally:
        ro.stop()
    assert _status(demo.sock)["global"]["state"] == "ACTIVE"


def test_a_halt_from_the_page_reaches_the_engine_and_shows_halted(browser, web, demo, token):
    from selenium.webdriver.common.by import By
    _open(browser, web.url + f"#token={token[1]}")
    assert "token" not in browser.current_url   # taken out of the address bar
    assert wait_until(lambda: _status(demo.sock)["tickets_by_state"], timeout=90), "the demo never traded"
    browser.find_element(By.ID, f"btn-halt-{PAIR}").click()
    browser.find_element(By.ID, "confirm-reason").send_keys("checking the hedge")
    browser.find_element(By.ID, "confirm-go").click()
    badge = f'[data-pair="{PAIR}"] .pair-head .state'
    assert wait_until(lambda: _text(browser, badge) == "HALTED", timeout=15), _text(browser, "#toast")
    st = _status(demo.sock)
    pair = st["pairs"][PAIR]
    assert pair["state"] == "HALTED" and st["global"]["state"] == "ACTIVE"
    assert "halted by web view client 127.0.0.1:" in pair["reason"] and "checking the hedge" in pair["reason"]
    assert any(h["sticky"] and "web view client" in h["reason"] for h in pair["holds"])
    assert "web view client 127.0.0.1:" in _text(browser, f'[data-pair="{PAIR}"] .holds')
    # the card says why it will not trade, and the alerts panel has the operator's halt
    why = f'[data-pair="{PAIR}"] [data-why=refused]'
    assert wait_until(lambda: "HALTED: halted by web view client" in _text(browser, why), timeout=10), \
        _text(browser, why)
    assert wait_until(lambda: any("operator" in r and "checking the hedge" in r for r in
                                  _texts(browser, "#alerts .alert-row")), timeout=10), _text(browser, "#alerts")
    # positions and tickets by state as the engine has them (the demo traded before the halt)
    st = _status(demo.sock)
    assert st["positions"] and st["tickets_by_state"], st
    assert wait_until(lambda: all(k in _text(browser, "#positions") for k in st["positions"]), timeout=10), \
        (_text(browser, "#positions"), st["positions"])
    assert wait_until(lambda: all(k in _text(browser, "#ticket-states") for k in st["tickets_by_state"]),
                      timeout=10), (_text(browser, "#ticket-states"), st["tickets_by_state"])

    # every control request the engine saw is audited; the refused ones never reached it
    demo.stop()
    with create_engine(demo.db).connect() as c:
        rows = [json.loads(d) for (d,) in c.execute(text("select detail from events where kind='operator'"))]
    actions = [r for r in rows if r["command"] in ("halt", "resume", "flatten", "cancel-all")]
    assert len(actions) == 1, actions
    (halt,) = actions
    assert halt["ok"] is True and halt["args"]["pair"] == PAIR
    assert halt["who"].startswith("web view client 127.0.0.1:") and f"(uid {os.getuid()}," in halt["who"]
    assert halt["args"]["via"].startswith("web view client 127.0.0.1:")


def test_the_view_survives_the_engine_stopping_and_a_new_one_starting(browser, work):
    sock = work / "r.sock"
    first = start_demo(work, sock, "first")
    web = start_web(sock)
    try:
        _open(browser, web.url)
        run1 = _text(browser, "#run-id").strip()
        assert run1.startswith("X-")
        first.stop()
        assert wait_until(lambda: _text(browser, "#engine-state") == "engine not running", timeout=20)
        assert "reconnecting" in _text(browser, "#banner")
        second = start_demo(work, sock, "second")
        try:
            assert wait_until(lambda: _text(browser, "#engine-state") == "live", timeout=20)
            assert wait_until(lambda: _text(browser, "#run-id").strip() not in ("", run1), timeout=10)
            assert not browser.find_element("id", "banner").is_displayed()
        finally:
            second.stop()
    finally:
        first.stop()
        web.stop()
