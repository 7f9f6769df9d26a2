"""The rating page for real: `tracekd ratings serve` in its own process on loopback, driven by a
headless Chromium (Debian's chromium + chromium-driver, through selenium) through a whole Prolific
session, and by plain HTTP with hostile input. The rows are then read back from DuckDB."""

from __future__ import annotations

import multiprocessing
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import store_traces
from tracekd_ops.ratings.server import COOKIE, study_secret
from tracekd_ops.ratings.study import ATTENTION_TEXT, completion_code
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.steps.ratings import build_item_set
from tracekd_ops.store.store import Store

COMPLETION_URL = "https://app.prolific.com/submissions/complete?cc={code}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Store, str, Path]]:
    """(base URL, store, item set version, home) of a running rating page."""
    home = tmp_path / "home"
    store = Store(home / "tracekd.duckdb", tables=CATALOG)
    store_traces(store)
    version = build_item_set(store, "synthetic", per_condition=4, seed=0, attention_checks=2)["item_set_version"]
    # hostile text in an item: the page must show it as text
    store.execute("UPDATE rating_items SET question = '<script>window.pwned=1</script> Where is Mary?' WHERE item_set_version = ?", [version])
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "tracekd"), "ratings", "serve", "--home", str(home), "--port", str(port),
         "--completion-url", COMPLETION_URL],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the rating page did not start in 60 s"
            time.sleep(0.2)
        yield base, store, version, home
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        served_log = (tmp_path / "serve.log").read_text()
        assert COOKIE not in served_log and "token" not in served_log.lower()


def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/debian_packages.sh installs them as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.implicitly_wait(30)  # a loaded machine (CI) may take a while to render the next page
    return chrome


def click_and_wait(driver, element_id: str) -> None:  # noqa: ANN001 - a selenium WebDriver
    """Click a link or submit button, then wait until the next page has replaced this one: the old
    document is marked, and the wait ends when the loaded document has no mark (no element handle
    is kept across the navigation, which Chrome answers with errors rather than staleness)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settle(driver)
    driver.execute_script("document.documentElement.dataset.left = 'yes'")
    driver.find_element(By.ID, element_id).click()
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.readyState === 'complete' && !document.documentElement.dataset.left")
    )


def settle(driver) -> None:  # noqa: ANN001 - a selenium WebDriver
    """Wait until the current page has loaded (after a click, Back or a reload on a busy machine)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")


def test_a_participant_session_in_a_real_browser_from_the_platform_link_to_the_completion_code(served):
    from selenium.webdriver.common.by import By

    base, store, version, home = served
    completions = {r["completion"] for r in store.rows("SELECT completion FROM traces")}
    driver = browser()
    rng = random.Random(0)
    try:
        driver.get(f"{base}/?PROLIFIC_PID=5f3c2a1b9d8e7f6a5b4c3d2e&STUDY_ID=study-42&SESSION_ID=sess-7")
        settle(driver)
        driver.find_element(By.ID, "consent").click()
        click_and_wait(driver, "start")
        assert "Instructions" in driver.page_source
        labels = driver.find_element(By.TAG_NAME, "dl").text  # the trace's labels, explained as the browser shows them
        assert "<think> … </think>" in labels and "two-supporting-facts" in labels
        click_and_wait(driver, "begin")
        seen: list[tuple[str, tuple[int, int]]] = []
        while "Your completion code" not in driver.page_source:
            progress = driver.find_element(By.ID, "progress").text
            assert progress.startswith(f"Item {len(seen) + 1} of 14"), progress
            if len(seen) == 5:  # a reload continues at the same item
                driver.refresh()
                settle(driver)
                assert driver.find_element(By.ID, "progress").text == progress
            trace = driver.find_element(By.CSS_SELECTOR, "pre.trace").text
            assert trace == ATTENTION_TEXT or trace in completions, trace  # the very text the student was trained on
            if trace == ATTENTION_TEXT:
                values = (1, 5)
            else:
                values = (rng.randint(1, 5), rng.randint(1, 5))
            driver.find_element(By.ID, f"interpretability-{values[0]}").click()
            driver.find_element(By.ID, f"cognitive_load-{values[1]}").click()
            if len(seen) == 2:
                driver.find_element(By.ID, "comment").send_keys("The second fact did not seem needed. ünïcödé")
            seen.append((trace, values))
            click_and_wait(driver, "next")
            if len(seen) == 3:  # back shows the first unanswered item again, never an answered one
                driver.back()
                settle(driver)
                assert driver.find_element(By.ID, "progress").text.startswith("Item 4 of 14")
        assert driver.execute_script("return window.pwned === undefined")  # the hostile question stayed text
        code = driver.find_element(By.ID, "code").text
        link = driver.find_element(By.ID, "complete").get_attribute("href")
    finally:
        driver.quit()
    participant = "5f3c2a1b9d8e7f6a5b4c3d2e"
    assert code == completion_code(study_secret(home), version, participant)
    assert link == COMPLETION_URL.format(code=code)
    rows = store.rows("SELECT * FROM ratings WHERE item_set_version = ? ORDER BY submitted_at", [version])
    assert len(rows) == 14 and {r["participant_id"] for r in rows} == {participant}
    assert {r["panel"] for r in rows} == {"real"} and {r["source"] for r in rows} == {"rating page"}
    assert [(r["interpretability"], r["cognitive_load"]) for r in rows] == [values for _, values in seen]
    assert [r["comment"] for r in rows if r["comment"]] == ["The second fact did not seem needed. ünïcödé"]
    trace_sets = {r["condition"]: r["trace_set_version"] for r in store.rows("SELECT * FROM trace_sets")}
    assert all(r["trace_set_version"] == trace_sets[r["condition"]] for r in rows if r["condition"] != "attention_check")
    (session,) = store.rows("SELECT * FROM rating_sessions")
    assert (session["platform"], session["study_id"], session["session_id"]) == ("prolific", "study-42", "sess-7")
    assert session["completed_at"] is not None


def test_the_page_shows_the_training_completion_and_explains_its_labels(served):
    """Without a browser too: every item page shows its trace as the student was trained on it
    (markup included, escaped as text), and the instructions explain the markup and the steps."""
    import html
    import re

    base, store, version, _ = served
    completions = {r["completion"] for r in store.rows("SELECT completion FROM traces")}
    with httpx.Client() as client:
        assert start(base, client, participant_id="lab-labels").status_code == 303
        instructions = html.unescape(client.get(f"{base}/instructions").text)
        for label in ("<think> … </think>", "<answer> … </answer>", "The category of the question asked is:",
                      "I need to use the following facts:", "numbered facts",
                      "A category: the answer needs two facts of the story together."):  # fmt: skip  (its meaning, from the dataset's spec)
            assert label in instructions, label
        for _ in range(14):
            page = client.get(f"{base}/item").text
            (shown,) = re.findall(r'<pre class="trace">(.*?)</pre>', page, re.S)
            assert html.unescape(shown) == ATTENTION_TEXT or html.unescape(shown) in completions
            assert "<think>" not in page  # markup in a trace is text on the page, never an element
            client.post(f"{base}/rate", data={"item_id": shown_item(base, client), "interpretability": "3", "cognitive_load": "3"})


def start(base: str, client: httpx.Client, **params: str) -> httpx.Response:
    return client.post(f"{base}/start", data={"consent": "yes", **params})


def test_bad_input_gets_a_clear_4xx_and_changes_nothing(served, faults):
    base, store, version, _ = served
    with httpx.Client() as stranger:
        response = stranger.post(f"{base}/rate", data={"item_id": "x", "interpretability": "3", "cognitive_load": "3"})
        assert response.status_code == 401 and "No study session" in response.text
    for params, message in [
        ({"PROLIFIC_PID": "", "STUDY_ID": "s", "SESSION_ID": "x"}, "PROLIFIC_PID: missing"),
        ({"STUDY_ID": "s", "SESSION_ID": "x"}, "PROLIFIC_PID: missing"),
        ({"PROLIFIC_PID": "a b", "STUDY_ID": "s", "SESSION_ID": "x"}, "PROLIFIC_PID: must be 1-128 printable characters"),
        ({"participant_id": "p" * 500}, "participant_id: must be 1-128"),
    ]:
        with httpx.Client() as client:
            response = start(base, client, **params)
            assert response.status_code == 400 and message in response.text, (params, response.text)
    with httpx.Client() as client:
        assert client.post(f"{base}/start", data={"PROLIFIC_PID": "p1"}).status_code == 400  # no consent
        assert start(base, client, PROLIFIC_PID="p1", STUDY_ID="s", SESSION_ID="x").status_code == 303
        item_id = client.get(f"{base}/item").text.split('name="item_id" value="')[1].split('"')[0]
        cases = [
            ({"item_id": item_id, "interpretability": "9", "cognitive_load": "3"}, 422, "interpretability: must be one of 1-5"),
            ({"item_id": item_id, "interpretability": "3"}, 422, "cognitive_load: missing"),
            ({"item_id": item_id, "interpretability": "3", "cognitive_load": "2", "comment": "y" * 3000}, 422, "comment: at most 2000"),
            ({"item_id": "0123456789ab", "interpretability": "3", "cognitive_load": "3"}, 404, "is not an item of your session"),
            ({"item_id": item_id, "interpretability": "3", "cognitive_load": "3", "comment": "z" * 20_000}, 413, "too large"),
        ]
        for form, status, message in cases:
            response = client.post(f"{base}/rate", data=form)
            assert response.status_code == status and message in response.text, (form, response.status_code, response.text[-300:])
        repeated = client.post(f"{base}/rate", content=f"item_id={item_id}&interpretability=3&interpretability=5&cognitive_load=2",
                               headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert repeated.status_code == 400 and "more than once" in repeated.text
    with httpx.Client() as other_browser:  # the same participant id from another browser
        response = start(base, other_browser, PROLIFIC_PID="p1", STUDY_ID="s", SESSION_ID="x")
        assert response.status_code == 409 and "another browser" in response.text
    assert store.rows("SELECT count(*) AS n FROM ratings")[0]["n"] == 0
    assert [r["participant_id"] for r in store.rows("SELECT participant_id FROM rating_sessions")] == ["p1"]
    faults.held("bad_input")


def hold_the_store(path: str, seconds: float, ready) -> None:  # noqa: ANN001 - a multiprocessing Event
    with Store(path, tables=CATALOG).connect(write=True):
        ready.set()
        time.sleep(seconds)


def test_an_answer_waits_for_a_running_write_and_then_lands(served):
    """A materialization holding the store's write lock (another process) delays an answer; it
    neither fails nor breaks the write. The same answer sent again is not counted twice."""
    base, store, version, _ = served
    with httpx.Client(timeout=60) as client:
        assert start(base, client, participant_id="lab-7").status_code == 303
        item_id = client.get(f"{base}/item").text.split('name="item_id" value="')[1].split('"')[0]
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        writer = context.Process(target=hold_the_store, args=(str(store.path), 3.0, ready))
        writer.start()
        assert ready.wait(60)
        started = time.monotonic()
        response = client.post(f"{base}/rate", data={"item_id": item_id, "interpretability": "4", "cognitive_load": "2"})
        waited = time.monotonic() - started
        writer.join(30)
        assert writer.exitcode == 0
        again = client.post(f"{base}/rate", data={"item_id": item_id, "interpretability": "1", "cognitive_load": "1"})
    assert response.status_code == 303 and waited > 1.0
    assert again.status_code == 303  # a form sent twice (double click, retry) is not counted twice
    assert store.rows("SELECT participant_id, interpretability FROM ratings") == [{"participant_id": "lab-7", "interpretability": 4}]



def shown_item(base: str, client: httpx.Client) -> str:
    return client.get(f"{base}/item").text.split('name="item_id" value="')[1].split('"')[0]


def test_a_session_is_the_one_the_server_made_for_this_participant(served, faults):
    """Cookies are the server's: a chosen or forged one is no session and is never adopted. Another
    participant id in the same browser, or the study link after a completed in-lab session, starts
    afresh and sees none of the previous session. Only the item being shown can be rated."""
    base, store, version, home = served
    with httpx.Client() as chooser:  # a token the client made up is not kept as the session's token
        chooser.cookies.set(COOKIE, "attacker-chosen-token", domain="127.0.0.1")
        assert start(base, chooser, PROLIFIC_PID="victim", STUDY_ID="s", SESSION_ID="x").status_code == 303
        issued = chooser.cookies.get(COOKIE)
        assert issued != "attacker-chosen-token" and not issued.startswith("attacker-chosen-token")
    with httpx.Client() as forger:
        for cookie in ["attacker-chosen-token", issued.rsplit(".", 1)[0], issued.rsplit(".", 1)[0] + "." + "0" * 32, issued + "x"]:
            forger.cookies.set(COOKIE, cookie, domain="127.0.0.1")
            response = forger.post(f"{base}/rate", data={"item_id": "x", "interpretability": "3", "cognitive_load": "3"})
            assert response.status_code == 401, cookie
            assert forger.get(f"{base}/item", follow_redirects=False).status_code == 401
        forger.cookies.set(COOKIE, issued, domain="127.0.0.1")  # the real cookie, stolen, is the session (as with any bearer cookie)
        assert forger.get(f"{base}/item").status_code == 200

    with httpx.Client() as browser_:  # one browser, two participants
        assert start(base, browser_, PROLIFIC_PID="alice", STUDY_ID="s", SESSION_ID="a").status_code == 303
        first, order = shown_item(base, browser_), store.rows("SELECT item_order FROM rating_sessions WHERE participant_id = 'alice'")[0]["item_order"]
        later = order[1]
        response = browser_.post(f"{base}/rate", data={"item_id": later, "interpretability": "3", "cognitive_load": "3"})
        assert response.status_code == 409 and "not the item you are being shown" in response.text
        for bad in ["²", "３", " 3x", "03"]:  # digits int() reads or refuses, and padded ones: never a 500
            response = browser_.post(f"{base}/rate", data={"item_id": first, "interpretability": bad, "cognitive_load": "3"})
            assert response.status_code == 422 and "interpretability: must be one of 1-5" in response.text, bad
        assert browser_.post(f"{base}/rate", data={"item_id": first, "interpretability": "2", "cognitive_load": "3"}).status_code == 303
        assert store.rows("SELECT count(*) AS n FROM ratings")[0]["n"] == 1
        page = browser_.get(f"{base}/?PROLIFIC_PID=bob&STUDY_ID=s&SESSION_ID=b", follow_redirects=False)
        assert page.status_code == 200 and 'id="consent"' in page.text  # bob consents; he is not put into alice's items
        assert start(base, browser_, PROLIFIC_PID="bob", STUDY_ID="s", SESSION_ID="b").status_code == 303
        assert "Item 1 of 14" in browser_.get(f"{base}/item").text

    with httpx.Client() as lab:  # an in-lab machine: one participant completes, the next opens the link
        assert start(base, lab).status_code == 303
        for _ in range(14):
            assert lab.post(f"{base}/rate", data={"item_id": shown_item(base, lab), "interpretability": "1", "cognitive_load": "5"}).status_code == 303
        done = lab.get(f"{base}/done")
        code = done.text.split('id="code">')[1].split("<")[0]
        page = lab.get(f"{base}/", follow_redirects=False)
        assert page.status_code == 200 and 'id="consent"' in page.text
        assert start(base, lab).status_code == 303
        assert "Item 1 of 14" in lab.get(f"{base}/item").text and code not in lab.get(f"{base}/done").text
    participants = [r["participant_id"] for r in store.rows("SELECT participant_id FROM rating_sessions ORDER BY started_at")]
    assert participants[:3] == ["victim", "alice", "bob"] and len(participants) == 5 and participants[3] != participants[4]
    faults.held("bad_input")


def peak_rss(port: int) -> int:
    """The peak resident memory (bytes) of the `tracekd ratings serve` process on this port."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            command = (status.parent / "cmdline").read_bytes().split(b"\0")
            if b"serve" in command and str(port).encode() in command:
                line = next(l for l in status.read_text().splitlines() if l.startswith("VmHWM:"))
                return int(line.split()[1]) * 1024
        except (OSError, StopIteration):
            continue
    raise AssertionError(f"no rating page process on port {port}")


def test_an_endless_form_body_is_refused_without_being_read(served, faults):
    """A 400 MB POST streamed without a length (chunked) is refused (413) once it passes the limit,
    with the server's memory flat (what it reads past the limit it drops), and one that declares
    its length is refused on the header. The next participant is served as before."""
    base, store, _, _ = served
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        chunk = b"comment=" + b"x" * 65_528
        for _ in range(6_400):  # 400 MiB
            sent += len(chunk)
            yield chunk

    port = int(base.rsplit(":", 1)[1])
    with httpx.Client(timeout=60) as client:
        assert start(base, client, participant_id="lab-big").status_code == 303
        peak_before = peak_rss(port)
        try:
            response = client.post(f"{base}/rate", content=endless(), headers={"content-type": "application/x-www-form-urlencoded"})
            assert response.status_code == 413 and "too large" in response.text
        except httpx.TransportError:  # the server answered and closed while the client was still sending
            pass
        cookie = client.cookies.get(COOKIE)
    host = base.removeprefix("http://").split(":")[0]
    with socket.create_connection((host, port), timeout=10) as raw:  # a declared 400 MB body: refused on the header
        raw.sendall(f"POST /rate HTTP/1.1\r\nHost: {host}\r\nCookie: {COOKIE}={cookie}\r\nContent-Length: 419430400\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n\r\nitem_id=".encode())  # fmt: skip
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")
    grown = peak_rss(port) - peak_before
    assert sent > 100 * 2**20 or grown < 0  # it was really sent (or cut off early)
    assert grown < 64 * 2**20, f"the server's peak memory grew by {grown / 2**20:.0f} MiB while refusing {sent / 2**20:.0f} MiB"
    with httpx.Client() as next_participant:
        assert start(base, next_participant, participant_id="lab-next").status_code == 303
        assert next_participant.get(f"{base}/item").status_code == 200
    assert store.rows("SELECT count(*) AS n FROM ratings")[0]["n"] == 0
    faults.held("bad_input")


def test_many_participants_at_once_beside_a_slow_query_each_rating_stored_once(served):
    """20 participants submitting as fast as they can (their answers committed together), a double
    submit each, and a `tracekd query` running for seconds beside them: every participant
    finishes, every rating is stored exactly once, and counterbalancing rows are all different."""
    import asyncio

    base, store, version, home = served
    query = subprocess.Popen([str(Path(sys.executable).parent / "tracekd"), "query", "--home", str(home), "--timeout", "60",
                              "SELECT levenshtein(repeat('a', 30000), repeat('b', 30000)) AS d"], stdout=subprocess.PIPE)  # fmt: skip

    async def participant(number: int) -> int:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            assert (await client.post("/start", data={"consent": "yes", "participant_id": f"crowd-{number}"})).status_code == 303
            rated = 0
            while 'name="item_id" value="' in (page := (await client.get("/item", follow_redirects=True)).text):
                item_id = page.split('name="item_id" value="')[1].split('"')[0]
                form = {"item_id": item_id, "interpretability": str(1 + number % 5), "cognitive_load": "3"}
                first, again = await asyncio.gather(client.post("/rate", data=form), client.post("/rate", data=form))
                assert (first.status_code, again.status_code) == (303, 303), (first.text, again.text)
                rated += 1
            return rated

    async def everyone() -> list[int]:
        return await asyncio.gather(*(participant(number) for number in range(20)))

    assert asyncio.run(everyone()) == [14] * 20
    assert query.wait(timeout=60) == 0
    counts = store.rows("SELECT count(*) AS n, count(DISTINCT (participant_id, item_id)) AS distinct_n FROM ratings")[0]
    assert counts == {"n": 280, "distinct_n": 280}
    sessions = store.rows("SELECT counterbalance_row, completed_at FROM rating_sessions")
    assert len({s["counterbalance_row"] for s in sessions}) == 20 and all(s["completed_at"] for s in sessions)
