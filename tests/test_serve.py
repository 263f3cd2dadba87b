"""`assist serve` as a real server: REST and the WebSocket against a real spool with a worker moving
tasks, the auth rules (tokens, session cookie, CSRF, WebSocket origin), and the dashboard in a real
headless Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from pathlib import Path

import orjson
import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from assist.auth import jwt_tokens
from assist.auth.store import TokenStore
from conftest import ASSIST, BILLS_ROUTE, bill, free_port, jsonl, run, wait_for

ROUTES = """
[queue]
backoff_base = "50ms"
backoff_max = "100ms"
max_attempts = 1
""" + BILLS_ROUTE


@contextlib.contextmanager
def serving(home: Path, config: str):
    """`assist serve` on a free port with this config: (base url, bearer headers, token store)."""
    (home / "assist.toml").write_text(config)
    store = TokenStore(home)
    store.init("file")
    port = free_port()
    proc = subprocess.Popen([ASSIST, "serve", "--port", str(port)], stderr=subprocess.PIPE, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            return requests.get(f"{base}/openapi.json", timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_for(up, what="assist serve to answer", every=0.05)
    try:
        yield base, {"Authorization": f"Bearer {jwt_tokens.mint(store, 'serve', ttl_s=600)}"}, store
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) in (0, -15)  # uvicorn stops, then ends by the signal it was sent


@pytest.fixture
def served(home, tmp_path):
    with serving(home, ROUTES.format(vault=tmp_path / "vault")) as running:
        yield running


class EventLog:
    """The events of /api/events, read by a thread."""

    def __init__(self, ws):
        self.ws = ws
        assert orjson.loads(self.ws.recv(timeout=10)) == {"kind": "hello"}
        self.events: list[dict] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                self.events.append(orjson.loads(message))
        except Exception:
            pass

    def states(self, task_id: str) -> list[str]:
        return [e["state"] for e in list(self.events) if e["kind"] == "task" and e["id"] == task_id]


def test_rest_and_events_follow_a_worker(served, home, tmp_path):
    base, bearer, _ = served
    worker = subprocess.Popen([ASSIST, "act", "--from", "act", "--follow"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (home / "spool" / "act" / "hold").is_dir(), what="the worker's queue")
        with connect(base.replace("http", "ws") + "/api/events", additional_headers=bearer, open_timeout=10) as ws:
            feed = EventLog(ws)
            assert run(["enqueue", "--queue", "act"], jsonl(bill("Electricity, November"))).code == 0
            held = wait_for(lambda: requests.get(f"{base}/api/tasks?state=hold", headers=bearer, timeout=5).json(),
                            what="the task held for approval")
            [row] = held
            task_id = row["id"]
            assert row["queue"] == "act" and row["subject"] == "Electricity, November"
            assert row["awaiting"] == [{"type": "notes.append", "args": {"note": "Bills",
                                                                         "text": "pay: Electricity, November"}}]
            wait_for(lambda: "hold" in feed.states(task_id), what="the hold event")
            assert not (tmp_path / "vault" / "Bills.md").exists()
            overview = requests.get(f"{base}/api/overview", headers=bearer, timeout=5).json()
            [me] = [w for w in overview["workers"] if w["pid"] == worker.pid]  # the worker says it is alive
            assert me["stage"] == "act" and me["queue"] == "act" and overview["workers_by_host"][me["host"]] >= 1

            approved = requests.post(f"{base}/api/tasks/{task_id[:12]}/approve", headers=bearer, timeout=5)
            assert approved.status_code == 200
            assert approved.json() == {"queue": "act", "id": task_id, "verb": "approve"}
            wait_for(lambda: "done" in feed.states(task_id), what="the done event")
            assert "pay: Electricity, November" in (tmp_path / "vault" / "Bills.md").read_text()
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    # every state it went through, in order (the spool's renames, seen by inotify)
    assert feed.states(task_id) == ["new", "cur", "hold", "new", "cur", "done"]

    shown = requests.get(f"{base}/api/tasks/{task_id}", headers=bearer, timeout=5).json()
    assert shown["state"] == "done" and "approved" not in shown["task"]["meta"]
    [approval] = shown["approvals"]  # recorded outside the task, by who approved
    assert approval["kind"] == "plan" and approval["by"].startswith("api:")
    queues = {q["name"]: q for q in requests.get(f"{base}/api/queues", headers=bearer, timeout=5).json()}
    assert queues["act"]["depth"]["done"] == 1 and queues["act"]["depth"]["hold"] == 0
    logs = requests.get(f"{base}/api/logs?component=act&level=info", headers=bearer, timeout=5).json()
    assert any(r["event"] == "held" for r in logs) and all(r["component"] == "act" for r in logs)


def test_events_and_approval_on_the_redis_backend(home, tmp_path, fresh_redis):
    """On Redis the feed compares listings (no inotify there): the states that last show up, in order."""
    config = f'[queue]\nurl = "{fresh_redis}"\n' + BILLS_ROUTE.format(vault=tmp_path / "vault")
    with serving(home, config) as (base, bearer, _), \
            connect(base.replace("http", "ws") + "/api/events", additional_headers=bearer, open_timeout=10) as ws:
        feed = EventLog(ws)
        assert run(["enqueue", "--queue", "act"], jsonl(bill("Phone bill"))).code == 0
        assert run(["act", "--from", "act", "--once"]).code == 0
        [held] = wait_for(lambda: requests.get(f"{base}/api/tasks?state=hold", headers=bearer, timeout=5).json(),
                          what="the held task")
        wait_for(lambda: "hold" in feed.states(held["id"]), what="the hold event")
        # only the plan the person was shown is approved: its listing names it (plan), another is refused
        other = requests.post(f"{base}/api/tasks/{held['id']}/approve?plan=0123abcd", headers=bearer, timeout=5)
        assert other.status_code == 409 and "changed since it was shown" in other.json()["error"]
        approved = requests.post(f"{base}/api/tasks/{held['id']}/approve?plan={held['plan']}", headers=bearer,
                                 timeout=5)
        assert approved.status_code == 200, approved.text
        assert run(["act", "--from", "act", "--once"]).code == 0
        wait_for(lambda: "done" in feed.states(held["id"]), what="the done event")
    seen = feed.states(held["id"])
    assert seen.index("hold") < seen.index("done") and set(seen) <= {"new", "cur", "hold", "done"}
    assert "pay: Phone bill" in (tmp_path / "vault" / "Bills.md").read_text()


def test_retry_and_cancel_through_the_api_change_the_spool(served, home):
    base, bearer, _ = served
    broken = {"type": "text", "prompt": {"messages": [{"role": "user", "content": "hi"}], "model": "nowhere"}}
    assert run(["enqueue", "--queue", "prompt"], jsonl(broken, broken)).code == 0
    assert run(["run", "--from", "prompt", "--once"]).code == 1
    failed = requests.get(f"{base}/api/tasks?queue=prompt&state=failed", headers=bearer, timeout=5).json()
    assert len(failed) == 2 and all("models.nowhere: no such model" in t["last_error"] for t in failed)
    first, second = (t["id"] for t in failed)

    r = requests.post(f"{base}/api/tasks/{first}/retry", headers=bearer, timeout=5)
    assert r.status_code == 200 and r.json()["verb"] == "retry"
    assert [p.name for p in (home / "spool" / "prompt" / "failed").iterdir()] == [f"{second}.json"]
    [again] = list((home / "spool" / "prompt" / "new").iterdir())
    assert first in again.name and orjson.loads(again.read_bytes())["meta"]["attempts"] == 0
    r = requests.post(f"{base}/api/tasks/{first}/cancel", headers=bearer, timeout=5)
    assert r.status_code == 200 and (home / "spool" / "prompt" / "cancelled" / f"{first}.json").exists()
    # what cannot be done is said, and changes nothing
    r = requests.post(f"{base}/api/tasks/{first}/approve", headers=bearer, timeout=5)
    assert r.status_code == 409 and "error" in r.json()
    assert requests.post(f"{base}/api/tasks/{first}/explode", headers=bearer, timeout=5).status_code == 404
    assert requests.get(f"{base}/api/tasks/ZZZZ", headers=bearer, timeout=5).status_code == 404
    assert requests.get(f"{base}/api/tasks?state=bogus", headers=bearer, timeout=5).status_code == 400

    metrics = requests.get(f"{base}/metrics", headers=bearer, timeout=5)
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'assist_queue_tasks{queue="prompt",state="failed"} 1.0' in metrics.text
    assert 'assist_queue_tasks{queue="prompt",state="cancelled"} 1.0' in metrics.text


def test_a_running_task_is_shown_with_its_worker_and_command(served, home):
    import socket

    from assist.config_file import load
    base, bearer, _ = served
    assert run(["enqueue", "--queue", "inbox"], jsonl({"type": "text", "data": {"text": "x"}})).code == 0
    queue = load(home).backend().queue("inbox")
    [lease] = queue.claim(1)  # this test process is the worker holding it
    try:
        overview = requests.get(f"{base}/api/overview", headers=bearer, timeout=5).json()
    finally:
        queue.ack(lease)
    [running] = overview["running"]
    assert running["id"] == lease.id and running["owner"] == f"{os.getpid()}@{socket.gethostname()}"
    assert "python" in running["stage"] and running["age_s"] >= 0 and running["info"].startswith("leased by")
    assert overview["queues"][0]["depth"]["cur"] == 1 and overview["routes"] == ["bills"]


def test_the_openapi_description_covers_every_route(served):
    base, _, _ = served
    spec = requests.get(f"{base}/openapi.json", timeout=5).json()
    from assist.serve.app import build_app
    from assist.serve.auth import Auth

    app = build_app(None, Path("/nonexistent"), Auth(b"k" * 32), log=None)
    paths = {route.path for route in app.routes if route.path != "/static"}
    assert paths == set(spec["paths"]), paths ^ set(spec["paths"])


def test_refused_without_a_good_token_session_or_csrf(served):
    base, _, store = served
    api = ["/api/overview", "/api/queues", "/api/tasks", "/api/tasks/X", "/api/logs", "/metrics"]
    other_audience = jwt_tokens.mint(store, "ingest")
    expired = jwt_tokens.mint(store, "serve", ttl_s=-60)
    forged = jwt_tokens.mint_with_key(b"not the key" * 4, "serve")
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": f"Bearer {other_audience}"},
                    {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"}):
        for path in api:
            assert requests.get(base + path, headers=headers, timeout=5).status_code == 401, (path, headers)
        assert requests.post(f"{base}/api/tasks/X/retry", headers=headers, timeout=5).status_code == 401
    # the dashboard without a session: how to sign in, no data
    page = requests.get(base + "/", timeout=5)
    assert page.status_code == 401 and "assist serve --login-url" in page.text

    # a login link: one session, once; the cookie is Secure, HttpOnly, SameSite=Strict
    link = run(["serve", "--login-url", "--port", base.rsplit(":", 1)[1]]).out.strip()
    assert link.startswith(base + "/login?token=")
    login = requests.get(link, allow_redirects=False, timeout=5)
    assert login.status_code == 303 and login.headers["location"] == "/"
    cookie_header = login.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie_header.lower(), cookie_header
    assert requests.get(link, allow_redirects=False, timeout=5).status_code == 401  # used already
    session = {"Cookie": cookie_header.split(";")[0]}
    page = requests.get(base + "/", headers=session, timeout=5)
    assert page.status_code == 200
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    assert len(csrf) == 64
    assert requests.get(f"{base}/api/queues", headers=session, timeout=5).status_code == 200
    # a change with the cookie needs the CSRF token
    assert run(["enqueue", "--queue", "q"], jsonl({"type": "t"})).code == 0
    task_id = requests.get(f"{base}/api/tasks?queue=q", headers=session, timeout=5).json()[0]["id"]
    for headers in (session, {**session, "X-CSRF-Token": "0" * 64}):
        r = requests.post(f"{base}/api/tasks/{task_id}/cancel", headers=headers, timeout=5)
        assert r.status_code == 403, r.text
    assert run(["queue", "show", task_id]).json()["state"] == "new"
    r = requests.post(f"{base}/api/tasks/{task_id}/cancel", headers={**session, "X-CSRF-Token": csrf}, timeout=5)
    assert r.status_code == 200 and run(["queue", "show", task_id]).json()["state"] == "cancelled"

    # the event feed: nobody, a bad token, or the cookie from a foreign page are turned away
    ws_url = base.replace("http", "ws") + "/api/events"
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {**session, "Origin": "http://evil.example"}):
        with pytest.raises(InvalidStatus) as refused, connect(ws_url, additional_headers=headers, open_timeout=5):
            pass
        assert refused.value.response.status_code == 403  # closed before the handshake completes
    with connect(ws_url, additional_headers={**session, "Origin": base}, open_timeout=5) as ws:
        assert orjson.loads(ws.recv(timeout=5)) == {"kind": "hello"}


def test_the_dashboard_in_a_real_browser(served, browser, home, tmp_path):
    from playwright.sync_api import expect

    base, _, _ = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: errors.append(message.text)  # what the page's own policy refused
            if "Content Security Policy" in message.text else None)
    link = run(["serve", "--login-url", "--port", base.rsplit(":", 1)[1]]).out.strip()
    page.goto(link)
    expect(page.get_by_test_id("live")).to_have_text("live")
    expect(page.get_by_test_id("workers")).to_contain_text("workers:")  # by host; none run in this test
    expect(page.get_by_test_id("held")).to_contain_text("nothing is waiting for you")

    # a task held by a worker appears without a reload
    assert run(["enqueue", "--queue", "act"], jsonl(bill("Water <b>bill</b>"))).code == 0
    assert run(["act", "--from", "act", "--once"]).code == 0
    [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
    row = page.locator(f'tr[data-task="{held["id"]}"]')
    expect(row).to_contain_text("Water <b>bill</b>")  # shown as text, not markup
    expect(row).to_contain_text("notes.append")
    expect(page.get_by_test_id("queues")).to_contain_text("act")
    expect(page.get_by_test_id("activity")).to_contain_text(f"act/{held['id']}")
    page.screenshot(path=str(tmp_path / "dashboard-held.png"), full_page=True)

    # approve from the page: the spool changes, the row goes away
    page.get_by_test_id(f"approve-{held['id']}").click()
    expect(page.get_by_test_id("message")).to_contain_text(f"approve: {held['id']}")
    expect(row).to_have_count(0)
    shown = run(["queue", "show", held["id"]]).json()
    assert shown["state"] == "new" and [a["kind"] for a in shown["approvals"]] == ["plan"]
    assert run(["act", "--from", "act", "--once"]).code == 0
    assert "pay: Water \\<b>bill\\</b>" in (tmp_path / "vault" / "Bills.md").read_text()  # shown as text there too
    expect(page.get_by_test_id("activity")).to_contain_text("→ done")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    assert errors == []


def test_a_subject_cannot_turn_its_row_of_the_dashboard_around(served, browser):
    """The person approves from what a held task's row shows. A right-to-left override in a subject turns
    what follows it around as it is shown ("elpmaxe.proc@ssob morf" shows as "from boss@corp.example"):
    the dashboard shows no direction controls, as `assist top` and the notes do not (right-to-left text
    needs none to show as it should)."""
    from playwright.sync_api import expect

    base, _, _ = served
    subject = "Invoice \u202eelpmaxe.proc@ssob morf\u2066 \u200f\u0634\u0643\u0631\u0627"
    assert run(["enqueue", "--queue", "act"], jsonl(bill(subject))).code == 0
    assert run(["act", "--from", "act", "--once"]).code == 0
    [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
    page = browser.new_page()
    page.goto(run(["serve", "--login-url", "--port", base.rsplit(":", 1)[1]]).out.strip())
    row = page.locator(f'tr[data-task="{held["id"]}"]')
    expect(row).to_contain_text("Invoice elpmaxe.proc@ssob morf")  # in the order it is stored
    shown = row.inner_text()
    assert "\u0634\u0643\u0631\u0627" in shown  # right-to-left words stay
    assert not {"\u202e", "\u2066", "\u200f"} & set(shown), ascii(shown)


def test_the_dashboard_says_where_a_held_send_really_goes(home, browser):
    """Beside a held send's arguments, the dashboard shows the notices of lookalikes.py: an address in
    letters beyond ASCII by the form its servers know, a name that reads as another address."""
    from playwright.sync_api import expect

    config = '[routes.outbox]\nactions = ["email.send"]\nconfirm = ["email.send"]\n'
    with serving(home, config) as (base, _, _):
        send = {"type": "email.send", "args": {"to": "accounting@examp\u0142e.org", "subject": "s", "body": "b"}}
        assert run(["act"], jsonl({"type": "email.received", "intent": {"route": "outbox"},
                                   "result": {"parsed": {"actions": [send]}}})).code == 0
        [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
        page = browser.new_page()
        page.goto(run(["serve", "--login-url", "--port", base.rsplit(":", 1)[1]]).out.strip())
        row = page.locator(f'tr[data-task="{held["id"]}"]')
        expect(row).to_contain_text("look: examp\u0142e.org is written with letters beyond ASCII: its servers "
                                    "know it as xn--exampe-7db.org")


def test_the_dashboard_drops_the_direction_controls_the_terminal_drops():
    """app.js's DIRECTION_CONTROLS is printable.py's BIDI_CONTROLS, written as a JavaScript class."""
    import re

    from assist.printable import BIDI_CONTROLS

    source = (Path(__file__).parents[1] / "cli" / "assist" / "serve" / "static" / "app.js").read_text()
    [spec] = re.findall(r"const DIRECTION_CONTROLS = /\[(.*?)\]/g;", source)
    chars = set()
    for first, last in re.findall(r"\\u(\w{4})(?:-\\u(\w{4}))?", spec):
        chars |= {chr(c) for c in range(int(first, 16), int(last or first, 16) + 1)}
    assert chars == set(BIDI_CONTROLS)


def test_no_other_page_may_show_the_dashboard_in_a_frame(served, browser):
    """A click on approve through someone else's page (clickjacking) needs the dashboard in a frame there."""
    base, bearer, _ = served
    for path in ("/", "/api/queues", "/static/app.js"):
        headers = requests.get(base + path, headers=bearer, timeout=5).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src 'self';" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
    page = browser.new_page()  # someone else's page (here about:blank) that frames the dashboard
    with page.expect_event("console", lambda message: "frame-ancestors" in message.text) as refusal:
        page.set_content(f'<iframe src="{base}/"></iframe>')
    assert "has been blocked" in refusal.value.text
    [frame] = [f for f in page.frames if f is not page.main_frame]
    assert not frame.url.startswith(base) and "sign in" not in frame.content()


def test_a_person_files_an_unplaced_task_from_the_page(home, tmp_path, browser):
    from playwright.sync_api import expect

    from conftest import UNSURE_ROUTES

    with serving(home, ROUTES.format(vault=tmp_path / "vault") + UNSURE_ROUTES) as (base, bearer, _):
        text = {"type": "text", "data": {"text": "some jazz for the evening"}}
        assert run(["enqueue", "--queue", "inbox"], jsonl(text, text)).code == 0
        assert run(["classify", "--from", "inbox", "--to", "prompt", "--once"]).code == 0
        first, second = (t["id"] for t in run(["queue", "ls", "--state", "hold", "--json"]).json())
        # over the API: a route it does not know is refused, a configured one is taken
        r = requests.post(f"{base}/api/tasks/{first}/approve?route=nowhere", headers=bearer, timeout=5)
        assert r.status_code == 400 and "no route named 'nowhere'" in r.json()["error"]
        r = requests.post(f"{base}/api/tasks/{first}/approve?route=shopping", headers=bearer, timeout=5)
        assert r.status_code == 200 and r.json()["route"] == "shopping"

        page = browser.new_page()
        page.goto(run(["serve", "--login-url", "--port", base.rsplit(":", 1)[1]]).out.strip())
        row = page.locator(f'tr[data-task="{second}"]')
        expect(row).to_contain_text("no confident route")
        expect(page.get_by_test_id(f"approve-{second}")).to_have_count(0)  # it needs a route, not a yes
        page.get_by_test_id(f"route-{second}").select_option("music")
        page.get_by_test_id(f"file-{second}").click()
        expect(page.get_by_test_id("message")).to_contain_text(f"approve: {second} on route music")
        expect(row).to_have_count(0)
        # the person removes a route while the server runs: it is no longer offered nor taken
        config = home / "assist.toml"
        config.write_text(config.read_text().replace(UNSURE_ROUTES, UNSURE_ROUTES.split("[routes.music]")[0]))
        offered = requests.get(f"{base}/api/overview", headers=bearer, timeout=5).json()["routes"]
        assert "shopping" in offered and "music" not in offered
    routed = {i: run(["queue", "show", i]).json()["task"]["intent"] for i in (first, second)}
    assert routed[first]["route"] == "shopping" and routed[second]["route"] == "music"
    assert {i["by"] for i in routed.values()} == {"person"}


def test_the_page_offers_a_held_task_only_the_routes_that_take_it(home, tmp_path, browser):
    """A route with `types` takes only those (task.takes): the page's menu for a webhook's item does not
    offer a mail route, and the API refuses it if asked."""
    from playwright.sync_api import expect

    from conftest import UNSURE_ROUTES

    mail_only = UNSURE_ROUTES.replace("[routes.music]\n", '[routes.music]\ntypes = ["email.*"]\n')
    with serving(home, ROUTES.format(vault=tmp_path / "vault") + mail_only) as (base, bearer, _):
        tip = {"type": "webhook.tip", "data": {"text": "some jazz for the evening"}}
        assert run(["enqueue", "--queue", "inbox"], jsonl(tip)).code == 0
        assert run(["classify", "--from", "inbox", "--to", "prompt", "--once"]).code == 0
        [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
        [row] = requests.get(f"{base}/api/overview", headers=bearer, timeout=5).json()["held"]
        assert row["id"] == held["id"] and row["routes"] == ["bills", "shopping"]
        r = requests.post(f"{base}/api/tasks/{held['id']}/approve?route=music", headers=bearer, timeout=5)
        assert r.status_code == 400 and "route music takes email.* tasks, not webhook.tip" in r.json()["error"]

        page = browser.new_page()
        page.goto(run(["serve", "--login-url", "--port", base.rsplit(":", 1)[1]]).out.strip())
        menu = page.get_by_test_id(f"route-{held['id']}")
        menu.wait_for()
        assert [o.get_attribute("value") for o in menu.locator("option").all()] == ["bills", "shopping"]
        # no route takes it any more: the page says so instead of an empty menu
        config = home / "assist.toml"
        config.write_text(config.read_text().replace("[routes.bills]\n", '[routes.bills]\ntypes = ["email.*"]\n')
                          .replace("[routes.shopping]\n", '[routes.shopping]\ntypes = ["email.*"]\n'))
        page.reload()
        expect(page.get_by_test_id(f"no-route-{held['id']}")).to_have_text("no route takes a webhook.tip")
        expect(page.get_by_test_id(f"route-{held['id']}")).to_have_count(0)
