"""`assist ingest http` as a real server: who may post, what is refused, and that a 202 means stored."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import subprocess
import time
from pathlib import Path

import jwt as pyjwt
import orjson
import pytest
import requests

from assist.auth import jwt_tokens
from assist.auth.store import TokenStore
from conftest import ASSIST, free_port, run

SECRET = "hook-secret-value"



@contextlib.contextmanager
def started(home):
    """`assist ingest http` taking HMAC-signed requests with the token "github": (url, store, process)."""
    store = TokenStore(home)
    store.init("file")
    store.set("github", {"kind": "api_key", "key": SECRET})
    port = free_port()
    proc = subprocess.Popen([ASSIST, "ingest", "http", "--port", str(port), "--to", "hooks", "--hmac-token",
                             "github", "--rate", "2", "--burst", "40", "--max-body", "1MB"],
                            stderr=subprocess.PIPE, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{url}/healthz", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    try:
        yield url, store, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def server(home):
    with started(home) as (url, store, _):
        yield url, store


def stored(home) -> int:
    path = home / "spool" / "hooks" / "new"
    return len(os.listdir(path)) if path.exists() else 0


def post(url, body=b'{"text": "hi"}', headers=None, name="note"):
    h = {"Content-Type": "application/json", **(headers or {})}
    return requests.post(f"{url}/trigger/{name}", data=body, headers=h, timeout=10)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def signed(body: bytes, secret: str = SECRET, stamp: int | None = None) -> dict:
    stamp = int(time.time()) if stamp is None else stamp
    mac = hmac.new(secret.encode(), str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Assist-Timestamp": str(stamp), "X-Assist-Signature-256": f"sha256={mac}"}


def test_a_valid_jwt_or_signature_is_stored_before_the_202(server, home):
    url, store = server
    r = post(url, headers=bearer(jwt_tokens.mint(store, audience="ingest")))
    assert r.status_code == 202 and r.json()["type"] == "webhook.note"
    body = b'{"ref": "main"}'
    r2 = post(url, body, signed(body), name="push")
    assert r2.status_code == 202
    rows = {row["id"]: row for row in run(["queue", "ls", "--queue", "hooks", "--json"]).json()}
    assert set(rows) == {r.json()["id"], r2.json()["id"]}
    shown = run(["queue", "show", r2.json()["id"]]).json()["task"]
    assert shown["data"] == {"ref": "main"} and shown["source"] == "http:hmac:github"
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"ok": True}


def test_everything_else_is_refused_with_a_json_error(server, home):
    url, store = server
    key = store.jwt_key()
    now = int(time.time())
    expired = pyjwt.encode({"iss": "assist", "aud": "ingest", "iat": now - 600, "exp": now - 300}, key, "HS256")
    other_key = pyjwt.encode({"iss": "assist", "aud": "ingest", "iat": now, "exp": now + 60}, b"x" * 32, "HS256")
    wrong_audience = jwt_tokens.mint(store, audience="serve")
    body = b'{"a": 1}'
    cases = [
        ({}, body),  # nothing
        (bearer(expired), body),
        (bearer(other_key), body),
        (bearer(wrong_audience), body),
        (bearer("not.a.jwt"), body),
        (signed(body, "wrong-secret"), body),
        (signed(b'{"a": 2}'), body),  # a signature of another body
        ({"X-Assist-Signature-256": "sha1=abc", "X-Assist-Timestamp": str(now)}, body),
        ({"X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()},
         body),  # GitHub's body-only signature: replayable, not taken
    ]
    for headers, payload in cases:
        r = post(url, payload, headers)
        assert r.status_code == 401, headers
        assert r.json() == {"error": "a valid bearer JWT, or X-Assist-Signature-256 with a recent "
                                     "X-Assist-Timestamp, sent once, is required", "status": 401}
    token = bearer(jwt_tokens.mint(store, audience="ingest"))
    big = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert post(url, big, token).status_code == 413
    chunked = requests.post(f"{url}/trigger/note", data=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                            headers={"Content-Type": "application/json", **token}, timeout=10)
    assert chunked.status_code == 413
    r = requests.post(f"{url}/trigger/note", data=b"hi", headers={"Content-Type": "text/plain", **token}, timeout=10)
    assert r.status_code == 415 and r.json()["status"] == 415
    assert post(url, b"[1, 2]", token).status_code == 400
    assert post(url, b'{"a": ', token).status_code == 400
    deep = post(url, b'{"a": ' * 300 + b"1" + b"}" * 300, token)  # read, but then no stage could write it
    assert deep.status_code == 400 and deep.json()["error"] == "the body is nested deeper than 64 levels"
    assert post(url, body, token, name="Bad Name").status_code == 404
    assert stored(home) == 0


def test_a_caller_over_its_rate_gets_429(server, home):
    url, store = server
    token = bearer(jwt_tokens.mint(store, audience="ingest", subject="chatty"))
    codes = [post(url, headers=token).status_code for _ in range(45)]
    assert codes[:40] == [202] * 40
    assert 429 in codes[40:]
    r = post(url, headers=token)
    if r.status_code == 429:
        assert int(r.headers["Retry-After"]) >= 1
    assert stored(home) == codes.count(202) + (r.status_code == 202)


def test_refuses_to_start_without_a_way_to_check_callers(home):
    r = run(["ingest", "http", "--port", str(free_port())], timeout=30)
    assert r.code == 2 and "token init" in r.err


def test_a_button_posts_a_request_that_the_pipeline_answers_from_the_calendar(server, routed_home, gguf):
    """POST /trigger/ask {"text"} is a typed request: classified among the request routes, and the prompt
    stage gives it the calendar's facts (no model is asked here: the prompt is what is checked)."""
    home = routed_home
    with (home / "assist.toml").open("a") as f:
        f.write('\n[calendar]\ntimezone = "Europe/Berlin"\n')
    (home / "models").mkdir()
    (home / "models" / gguf.name).symlink_to(gguf)  # the prompt is fitted to the model's context
    ics = Path(__file__).parent / "fixtures" / "calendar" / "three-weeks.ics"
    assert run(["ingest", "ics", str(ics), "--since", "2026-11-23", "--until", "2027-01-01"]).code == 0
    url, _ = server
    body = b'{"text": "what is on my calendar on friday"}'
    r = post(url, body, signed(body), name="ask")
    assert r.status_code == 202 and r.json()["type"] == "request"
    for bad in (b'{"text": 5}', b'{"text": ""}', b'{"words": "hi"}'):
        assert post(url, bad, signed(bad), name="ask").status_code == 400
    assert run(["classify", "--from", "hooks", "--to", "classified", "--once"], timeout=300).code == 0
    task = run(["queue", "show", r.json()["id"], "--queue", "classified"]).json()["task"]
    assert task["intent"]["route"] == "agenda", task["intent"]
    # the prompt stage prepares it as of when it was asked; here, as of a Wednesday of the fixture's weeks
    task["data"]["asked_at"] = "2026-12-02T10:00:00+01:00"
    prompted = run(["prompt"], input=orjson.dumps(task) + b"\n", timeout=300)
    assert prompted.code == 0, prompted.err
    done = orjson.loads(prompted.out)
    assert done["data"]["window"] == "on Friday 4 December"
    assert done["data"]["events"] == ["Fri 4 Dec 16:00-17:00 Call with the New York team"]
    assert "Call with the New York team" in done["prompt"]["messages"][-1]["content"]


def test_a_damaged_replay_record_is_made_anew_and_replays_are_still_refused(home):
    """state/ingest-http.db keeps the signatures of the last minutes, to refuse a request sent again.
    Damaged (a disk that failed), `assist ingest http` did not start: a sqlite3 traceback, and every
    webhook refused until someone found the file. It is kept aside and made anew, said on stderr; it only
    ever holds minutes of signatures."""
    db = home / "state" / "ingest-http.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"\x00garbage{\n" * 100)
    with started(home) as (url, _, proc):
        body = b'{"ref": "main"}'
        headers = signed(body)
        assert post(url, body, headers, name="push").status_code == 202
        assert post(url, body, headers, name="push").status_code == 401  # the same request again
    err = proc.stderr.read().decode()
    assert f"{db}: damaged" in err and "Traceback" not in err, err
    assert db.with_name(db.name + ".damaged").exists()
