"""The encrypted token store: round trips, every kind of damage, permissions, concurrency, OAuth2, JWTs."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from assist.auth import jwt_tokens, keys
from assist.auth.oauth import SignInAgain, call_with_token, refresh, secret
from assist.auth.store import TokenStore
from assist.errors import NotFound
from assist.timeutil import now_ms, rfc3339
from conftest import run
from helpers.token_server import TokenServer

SECRETS = ["s3cr3t-bearer-value", "hunter2-imap-password", "RT-1", "csecret"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store(home) -> TokenStore:
    s = TokenStore(home)
    s.init("file")
    return s


def test_init_makes_private_files_and_a_round_trip_works(home, store):
    assert oct((home / "tokens.enc").stat().st_mode & 0o777) == "0o600"
    assert oct((home / "token.key").stat().st_mode & 0o777) == "0o600"
    store.set("mail", {"kind": "password", "username": "me@example.org", "password": "hunter2-imap-password"})
    again = TokenStore(home)
    assert again.get("mail")["password"] == "hunter2-imap-password"
    [listed] = again.names()
    assert listed["name"] == "mail" and listed["username"] == "me@example.org" and "password" not in listed
    assert b"hunter2" not in (home / "tokens.enc").read_bytes()
    again.remove("mail")
    with pytest.raises(NotFound):
        again.get("mail")


def test_each_write_uses_a_new_nonce(store, home):
    store.set("a", {"kind": "bearer", "token": "x"})
    first = (home / "tokens.enc").read_bytes()
    store.set("a", {"kind": "bearer", "token": "x"})
    second = (home / "tokens.enc").read_bytes()
    assert first[38:50] != second[38:50] and first != second


def test_wrong_key_is_a_clear_error_and_the_file_is_untouched(store, home, monkeypatch):
    store.set("a", {"kind": "bearer", "token": "s3cr3t-bearer-value"})
    before = digest(home / "tokens.enc")
    monkeypatch.setenv("ASSIST_KEY", keys.encode(keys.new_key()))
    r = run(["token", "ls"])
    assert r.code == 78 and "wrong key" in r.err
    assert digest(home / "tokens.enc") == before


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-40] + bytes([b[-40] ^ 1]) + b[-39:], "damaged or tampered"),
    (lambda b: b[:30], "truncated"),
    (lambda b: b[:14] + bytes([2]) + b[15:], "newer assist"),
    (lambda b: b"garbage" + b[7:], "not a token store"),
])
def test_damaged_stores_fail_clearly_and_stay_as_they_are(store, home, damage, message):
    store.set("a", {"kind": "bearer", "token": "s3cr3t-bearer-value"})
    path = home / "tokens.enc"
    path.write_bytes(damage(path.read_bytes()))
    os.chmod(path, 0o600)
    before = digest(path)
    r = run(["token", "ls"])
    assert r.code == 78 and message in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    r = run(["token", "set", "b", "--kind", "bearer"], "new-value")
    assert r.code == 78
    assert digest(path) == before


def test_readable_store_or_key_file_is_refused_with_the_reason(store, home):
    os.chmod(home / "tokens.enc", 0o644)
    r = run(["token", "ls"])
    assert r.code == 78 and "readable by others (mode 0644)" in r.err and "chmod 600" in r.err
    os.chmod(home / "tokens.enc", 0o600)
    os.chmod(home / "token.key", 0o640)
    r = run(["token", "ls"])
    assert r.code == 78 and "token.key" in r.err and "mode 0640" in r.err


def test_passphrase_store(home, monkeypatch):
    monkeypatch.setenv("ASSIST_PASSPHRASE", "correct horse battery staple")
    s = TokenStore(home)
    s.init("passphrase")
    assert not (home / "token.key").exists()
    s.set("a", {"kind": "api_key", "key": "k-123"})
    assert TokenStore(home).get("a")["key"] == "k-123"
    assert "wrong passphrase" in str(_error(lambda: TokenStore(home, passphrase="wrong").load()))
    monkeypatch.delenv("ASSIST_PASSPHRASE")
    assert "passphrase" in str(_error(lambda: TokenStore(home).load()))


def test_key_from_the_environment(home, monkeypatch):
    key = keys.encode(keys.new_key())
    monkeypatch.setenv("ASSIST_KEY", key)
    r = run(["token", "init"])
    assert r.code == 0 and "ASSIST_KEY" in r.out and not (home / "token.key").exists()
    assert run(["token", "set", "x", "--kind", "bearer"], "v").code == 0
    monkeypatch.setenv("ASSIST_KEY", "not-a-key")
    assert "not a key" in run(["token", "ls"]).err


def test_rotate_key_keeps_entries_and_retires_the_old_key(store, home):
    store.set("a", {"kind": "bearer", "token": "s3cr3t-bearer-value"})
    old_key = (home / "token.key").read_text()
    r = run(["token", "rotate-key"])
    assert r.code == 0, r.err
    assert (home / "token.key").read_text() != old_key
    assert TokenStore(home).get("a")["token"] == "s3cr3t-bearer-value"


def test_an_interrupted_rotation_is_finished_on_the_next_open(store, home):
    store.set("a", {"kind": "bearer", "token": "t"})
    data = store.load()
    key, kdf, salt, _ = store._make_key("file", pending=True)
    store._save(data, key, kdf, salt)  # the crash: store re-encrypted, new key file not yet renamed
    assert (home / "token.key.new").exists()
    assert TokenStore(home).get("a")["token"] == "t"
    assert not (home / "token.key.new").exists()


def test_cli_set_ls_show_reveal_rm(home):
    assert run(["token", "init"]).code == 0
    r = run(["token", "set", "fastmail", "--kind", "password", "--username", "me@fm.com"], "hunter2-imap-password\n")
    assert r.code == 0, r.err
    r = run(["token", "set", "api", "--kind", "api_key", "--expires-in", "1h"], "s3cr3t-bearer-value")
    assert r.code == 0
    ls = run(["token", "ls", "--json"]).json()
    assert [e["name"] for e in ls] == ["api", "fastmail"]
    assert "hunter2" not in run(["token", "ls"]).out
    table = run(["token", "ls"]).out
    assert "in 59m" in table or "in 1h" in table
    shown = run(["token", "show", "fastmail"]).json()
    assert shown["password"] == "(hidden: use --reveal)" and shown["username"] == "me@fm.com"
    revealed = run(["token", "show", "fastmail", "--reveal"]).json()
    assert revealed["password"] == "hunter2-imap-password"
    assert run(["token", "rm", "api"]).code == 0
    assert run(["token", "show", "api"]).code == 2
    assert run(["token", "set", "x", "--kind", "bearer"], "").code == 2
    assert run(["token", "set", "bad name", "--kind", "bearer"], "v").code == 78


def test_eight_processes_setting_and_refreshing_lose_nothing(home):
    store = TokenStore(home)
    store.init("file")
    helper = str(Path(__file__).parent / "helpers" / "token_worker.py")
    with TokenServer(expires_in=3600) as server:
        store.set("shared", {"kind": "oauth2", "token_url": f"{server.url}/token", "client_id": "cid",
                             "client_secret": "csecret", "refresh_token": "RT-1", "access_token": "old",
                             "expires_at": rfc3339(now_ms() - 1000)})
        procs = [subprocess.Popen([sys.executable, helper, str(home), str(w), "10"]) for w in range(8)]
        loads = 0
        while any(p.poll() is None for p in procs):
            TokenStore(home).load()  # a reader at any moment sees a whole, decryptable store
            loads += 1
        assert all(p.wait(timeout=120) == 0 for p in procs)
        assert loads > 0
        assert server.refreshes == 1  # the first process refreshed; the others found it fresh
    names = {e["name"] for e in TokenStore(home).names()}
    assert names == {"shared"} | {f"w{w}-{k}" for w in range(8) for k in range(10)}
    assert TokenStore(home).get("shared")["access_token"] == "AT-1"


def test_oauth2_refresh_before_expiry_after_401_and_when_revoked(store):
    with TokenServer(expires_in=30, rotate=True) as server:
        store.set("g", {"kind": "oauth2", "token_url": f"{server.url}/token", "client_id": "cid",
                        "client_secret": "csecret", "refresh_token": "RT-1"})
        # no access token yet: the first use refreshes
        assert secret(store, "g") == "AT-1"
        assert store.get("g")["refresh_token"] == "RT-2"  # rotated and stored
        # expires in 30 s, inside the 60 s margin: the next use refreshes again
        assert secret(store, "g") == "AT-2"
        server.expires_in = 3600
        assert secret(store, "g") == "AT-3"
        assert secret(store, "g") == "AT-3"  # fresh now: no request
        assert server.refreshes == 3
        # the server forgets the token (revoked early): a 401, one refresh, one retry
        server.valid_access = set()
        response = call_with_token(store, "g", lambda t: requests.get(f"{server.url}/api",
                                                                    headers={"Authorization": f"Bearer {t}"}))
        assert response.status_code == 200 and server.refreshes == 4
        # the refresh token itself is revoked: the user must sign in again
        server.refresh_tokens = set()
        with pytest.raises(SignInAgain) as caught:
            refresh(store, "g", force=True)
        assert "sign in again" in str(caught.value) and "RT-" not in str(caught.value)
        r = run(["token", "refresh", "g"])
        assert r.code == 1 and "sign in again" in r.err


def test_unreachable_token_endpoint_is_unavailable(store):
    store.set("g", {"kind": "oauth2", "token_url": "http://me:s3cret@127.0.0.1:9/token", "refresh_token": "RT-1"})
    r = run(["token", "refresh", "g"])
    assert r.code == 69 and "cannot reach the token endpoint http://me:***@127.0.0.1:9/token" in r.err
    assert "s3cret" not in r.err


def test_jwt_round_trip_expiry_audience_and_tampering(store):
    token = jwt_tokens.mint(store, audience="ingest", ttl_s=60)
    assert jwt_tokens.verify(store, token, "ingest")["iss"] == "assist"
    with pytest.raises(jwt_tokens.BadToken, match="another audience"):
        jwt_tokens.verify(store, token, "serve")
    old = jwt_tokens.mint(store, audience="ingest", ttl_s=-30)
    with pytest.raises(jwt_tokens.BadToken, match="expired"):
        jwt_tokens.verify(store, old, "ingest", leeway_s=0)
    head, body, sig = token.split(".")
    with pytest.raises(jwt_tokens.BadToken):
        jwt_tokens.verify(store, f"{head}.{body}.{sig[:-2]}AA", "ingest")


def test_no_secret_in_logs_outputs_or_other_files(home):
    """Every way of using the store, failures included; then no secret value is anywhere but tokens.enc."""
    outputs = []
    outputs.append(run(["token", "init"]))
    outputs.append(run(["token", "set", "a", "--kind", "bearer"], SECRETS[0]))
    outputs.append(run(["token", "set", "m", "--kind", "password", "--username", "u"], SECRETS[1]))
    with TokenServer() as server:
        server.refresh_tokens = set()
        outputs.append(run(["token", "set", "g", "--kind", "oauth2", "--token-url", f"{server.url}/token",
                            "--client-id", "cid"], '{"refresh_token": "RT-1", "client_secret": "csecret"}'))
        outputs.append(run(["token", "refresh", "g"]))  # revoked: fails
    outputs.append(run(["token", "ls"]))
    outputs.append(run(["token", "show", "m"]))
    outputs.append(run(["token", "set", "m2", "--kind", "password"], b"\xff\xfe"))  # not UTF-8
    os.chmod(home / "tokens.enc", 0o644)
    outputs.append(run(["token", "show", "m"]))
    os.chmod(home / "tokens.enc", 0o600)
    text = "".join(o.out + o.err for o in outputs)
    for value in SECRETS:
        assert value not in text, value
    for path in home.rglob("*"):
        if path.is_file() and path.name not in ("tokens.enc", "token.key"):
            data = path.read_bytes()
            for value in SECRETS:
                assert value.encode() not in data, (path, value)
    assert (home / "logs" / "token.jsonl").exists()


def _error(fn):
    try:
        fn()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


def test_expired_entries_show_as_expired(store):
    store.set("old", {"kind": "bearer", "token": "t", "expires_at": rfc3339(now_ms() - 7_200_000)})
    assert "EXPIRED 2h ago" in run(["token", "ls"]).out


def test_without_a_usable_keyring_init_is_a_clear_error(home, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    r = run(["token", "init", "--keyring"])
    assert r.code == 78 and "keyring" in r.err and "Traceback" not in r.err
    assert not (home / "tokens.enc").exists()


def test_the_key_can_live_in_the_os_keyring(home, tmp_path, monkeypatch):
    # keyrings.alt's file backend stands in for the desktop's keyring service, through the same API
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    r = run(["token", "init", "--keyring"])
    assert r.code == 0 and "OS keyring" in r.out
    assert not (home / "token.key").exists()
    assert run(["token", "set", "api", "--kind", "api_key"], "s3cr3t-bearer-value").code == 0
    assert run(["token", "show", "api", "--reveal"]).json()["key"] == "s3cr3t-bearer-value"
    import keyring

    keyring.delete_password("assist", str(home))
    r = run(["token", "ls"])
    assert r.code == 78 and "no key found" in r.err


def test_init_twice_is_refused(store):
    r = run(["token", "init"])
    assert r.code == 78 and "exists already" in r.err
