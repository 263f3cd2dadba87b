"""The `openai` backend against a real llama.cpp server on loopback; the model selector's fallback and
the retry of tasks while no model answers."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest

from assist.ai.backends.base import ModelUnavailable, Options
from assist.ai.models import Models
from assist.config_file import load
from conftest import ASSIST, free_port, jsonl, run, wait_for
from helpers.llama_server import LlamaServer

SCHEMA = {"type": "object", "required": ["colour"], "additionalProperties": False,
          "properties": {"colour": {"enum": ["red", "green", "blue"]}}}


@pytest.fixture
def server(llm_home, gguf, tmp_path):
    srv = LlamaServer(gguf, free_port(), tmp_path / "server.log").start()
    yield srv
    srv.stop()


def configure(home: Path, models: str) -> None:
    with (home / "assist.toml").open("a") as f:
        f.write('\n[routes.echo]\ntemplate = "echo"\n' + models)


def server_model(url: str, **overrides: str) -> str:
    keys = {"backend": '"openai"', "url": f'"{url}"', "model": '"smollm2"', "json_mode": '"json_object"',
            "timeout": '"30s"', "retries": "1", "backoff": "0.05", **overrides}
    return "[models.server]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())


EMBEDDED = '[models.embedded]\nbackend = "llamacpp"\n'


def test_completion_json_and_streaming(server, llm_home):
    configure(llm_home, server_model(server.url))
    backend = Models(load(llm_home)).get("server")
    backend.health()
    messages = [{"role": "user", "content": "Pick a colour for the sky. Reply in JSON."}]
    reply = backend.complete(messages, Options(max_tokens=30, schema=SCHEMA))
    assert orjson.loads(reply.text)["colour"] in ("red", "green", "blue")
    assert reply.prompt_tokens > 5 and reply.completion_tokens > 0
    pieces = list(backend.stream([{"role": "user", "content": "Count from one to five."}], Options(max_tokens=24)))
    assert len(pieces) > 3 and "".join(pieces).strip()
    stream = backend.stream([{"role": "user", "content": "Count from one to fifty in words."}], Options(max_tokens=3))
    with pytest.raises(StopIteration) as ended:  # the server's finish_reason: cut at max_tokens
        while True:
            next(stream)
    assert ended.value.value == "length"


def arrived(home: Path) -> list[dict]:
    return [orjson.loads(p.read_bytes()) for p in sorted((home / "spool" / "out" / "new").glob("*.json"))]


def enqueue_echo(texts: list[str]) -> None:
    tasks = [{"type": "text", "data": {"text": t}, "intent": {"route": "echo"}} for t in texts]
    prompted = run(["prompt"], input=jsonl(*tasks))
    assert prompted.code == 0, prompted.err
    assert run(["enqueue", "--queue", "run"], input=prompted.out).code == 0


def test_server_stopped_mid_run_falls_back_to_the_next_model(server, llm_home):
    configure(llm_home, server_model(server.url) + EMBEDDED)
    worker = subprocess.Popen([ASSIST, "run", "--from", "run", "--to", "out", "--follow"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        enqueue_echo(["alpha", "beta"])
        wait_for(lambda: len(arrived(llm_home)) == 2, timeout=120, what="two answers from the server")
        server.stop()
        enqueue_echo(["gamma", "delta"])
        wait_for(lambda: len(arrived(llm_home)) == 4, timeout=120, what="two answers after the server stopped")
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0, worker.stderr.read().decode()
    done = {t["data"]["text"]: t["result"] for t in arrived(llm_home)}
    assert sorted(done) == ["alpha", "beta", "delta", "gamma"]
    assert done["alpha"]["model"] == done["beta"]["model"] == "server"
    assert done["alpha"]["backend"] == "openai"
    for text in ("gamma", "delta"):
        assert done[text]["model"] == "embedded" and done[text]["backend"] == "llamacpp"
    # the first task after the stop tried the server; the next one knew it was down and tried it last
    assert "cannot reach" in done["gamma"]["fallbacks"][0]["error"]
    health = orjson.loads((llm_home / "state" / "model-health.json").read_bytes())
    assert health["server"]["ok"] is False and health["embedded"]["ok"] is True


def test_tasks_wait_while_no_model_answers_and_finish_when_it_returns(server, llm_home):
    (llm_home / "assist.toml").write_text('[queue]\nbackoff_base = "200ms"\nbackoff_max = "1s"\nmax_attempts = 500\n')
    configure(llm_home, server_model(server.url))
    worker = subprocess.Popen([ASSIST, "run", "--from", "run", "--to", "out", "--follow"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        server.stop()
        enqueue_echo(["one", "two", "three"])

        def retried() -> bool:
            listing = run(["queue", "ls", "--queue", "run", "--json"]).json()
            return len(listing) == 3 and all(t.get("attempts", 0) >= 1 for t in listing)

        wait_for(retried, timeout=120, what="every task retried")
        first = run(["queue", "ls", "--queue", "run", "--json"]).json()[0]["id"]
        shown = run(["queue", "show", first]).json()
        assert "no model answered: model server: cannot reach" in shown["task"]["meta"]["last_error"]
        assert arrived(llm_home) == []
        server.start()
        wait_for(lambda: len(arrived(llm_home)) == 3, timeout=120, what="the tasks to finish once the server is back")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    done = arrived(llm_home)
    assert sorted(t["data"]["text"] for t in done) == ["one", "three", "two"]
    for task in done:
        runs = [t for t in task["trace"] if t["stage"] == "run"]
        assert task["result"]["model"] == "server"
        assert runs[-1]["ok"] and len(runs) >= 2 and not any(t["ok"] for t in runs[:-1])
    assert run(["queue", "ls", "--queue", "run", "--json"]).json() == []


def test_a_server_that_never_answers_times_out(home):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    try:
        url = f"http://me:s3cret@127.0.0.1:{listener.getsockname()[1]}/v1"  # a proxy's basic auth
        configure(home, server_model(url, timeout='"0.5s"', retries="0"))
        backend = Models(load(home)).get("server")
        started = time.monotonic()
        said = r"no answer from http://me:\*\*\*@127.0.0.1:.* within 0.5s"
        with pytest.raises(ModelUnavailable, match=said) as caught:
            backend.complete([{"role": "user", "content": "hi"}], Options(max_tokens=5))
        assert "s3cret" not in str(caught.value)  # errors are logged and shown in `queue show`
        assert time.monotonic() - started < 10  # it gave up instead of waiting forever
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def test_remote_endpoints_need_allow_remote(home, cli):
    groq = '[models.groq]\nbackend = "openai"\nurl = "https://api.groq.com/openai/v1"\nmodel = "llama-3.1-8b"\n'
    configure(home, groq)
    refused = cli(["config", "check"])
    assert refused.code == 78
    assert "models.groq.url: https://api.groq.com/openai/v1 is not on this machine; set allow_remote = true" \
        in refused.err
    with (home / "assist.toml").open("a") as f:
        f.write('[memory]\nurl = "https://chroma.example.net"\n')
    assert "memory.url: https://chroma.example.net is not on this machine" in cli(["config", "check"]).err
    text = (home / "assist.toml").read_text()
    (home / "assist.toml").write_text("allow_remote = true\n" + text)
    assert cli(["config", "check"]).code == 0


class Outbox:
    """An aiosmtpd handler that counts the messages it accepts, by subject."""

    def __init__(self):
        from collections import Counter

        self.subjects: Counter[str] = Counter()

    async def handle_DATA(self, server, session, envelope) -> str:
        from email import message_from_bytes

        self.subjects[str(message_from_bytes(envelope.content)["Subject"])] += 1
        return "250 OK"


def test_the_whole_pipeline_waits_for_its_model_and_sends_each_reply_once(server, llm_home):
    """ingest'd tasks -> assist work (classify, prompt, run, act) with the only model down: the tasks wait
    and retry, no mail goes out; the model comes back, every reply is sent exactly once."""
    from aiosmtpd.controller import Controller

    outbox = Outbox()
    smtp = Controller(outbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    (llm_home / "assist.toml").write_text(f"""
[queue]
backoff_base = "200ms"
backoff_max = "1s"
max_attempts = 500

[[rules]]
name = "everything"
route = "reply"
match = {{field = "type", equals = "text"}}

[routes.reply]
template = "echo"
model = "server"
actions = ["email.send"]

[[routes.reply.fixed]]
type = "email.send"
args = {{to = "me@example.org", subject = "re: {{{{ data.text }}}}", body = "{{{{ result.text }}}}"}}

[actions.smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
from = "assistant@example.org"
""" + server_model(server.url))
    server.stop()
    texts = ["invoice 17", "lunch on friday", "the quarterly report"]
    tasks = [{"type": "text", "data": {"text": t}} for t in texts]
    worker = subprocess.Popen([ASSIST, "work", "--from", "inbox", "--follow"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert run(["enqueue", "--queue", "inbox"], input=jsonl(*tasks)).code == 0

        def retried() -> bool:
            listing = run(["queue", "ls", "--queue", "inbox", "--json"]).json()
            # a task moved between the listing and its read shows without its document: asked again
            return len(listing) == 3 and all(t.get("attempts", 0) >= 2 for t in listing)

        wait_for(retried, timeout=120, what="every task retried twice")
        assert sum(outbox.subjects.values()) == 0
        server.start()
        finished = llm_home / "spool" / "inbox" / "done"
        wait_for(lambda: len(list(finished.glob("*.json"))) == 3, timeout=120, what="the tasks to finish")
    finally:
        worker.terminate()
        code = worker.wait(timeout=30)
    assert code == 0, worker.stderr.read().decode()
    again = run(["work", "--from", "inbox", "--once"])  # a later run finds nothing to do
    assert again.code == 0, again.err
    smtp.stop()
    assert outbox.subjects == {f"re: {t}": 1 for t in texts}
    for path in finished.glob("*.json"):
        task = orjson.loads(path.read_bytes())
        runs = [t for t in task["trace"] if t["stage"] == "run"]
        assert len(runs) >= 3 and runs[-1]["ok"] and not any(t["ok"] for t in runs[:-1])
        assert "cannot reach" in runs[0]["error"]
        assert [t["stage"] for t in task["trace"] if t["ok"]] == ["classify", "prompt", "run", "act"]
        assert task["result"]["model"] == "server" and task["actions"][0]["status"] == "done"
    assert run(["queue", "ls", "--queue", "inbox", "--json"]).json() == []


def test_every_built_in_schema_compiles_on_llama_cpps_server(server, llm_home):
    """The schema each built-in template sends, with the actions the default routes let a model propose,
    is one llama.cpp's server can build a grammar from (json_mode = "json_object", the mode it has): it
    answers each, and lives. json_schema, which it lacks, is refused in the server's own words."""
    mode = "json_object"
    from assist.act.plan import proposal_schema
    from assist.ai import templates
    from assist.ai.prompting import with_proposals
    from conftest import REPO

    (llm_home / "assist.toml").write_text((REPO / "assist.toml").read_text() + "\n" +
                                          server_model(server.url, json_mode=f'"{mode}"'))
    config = load(llm_home)
    backend = Models(config).get("server")
    used = {route.get("template"): route for route in config.routes.values() if route.get("template")}
    sent = 0
    for path in sorted(templates.builtin_dir().glob("*.md")):
        template = templates.load(path.stem, llm_home)
        if template.output is None:
            continue
        route = used.get(path.stem, {"actions": ["notes.append", "email.move", "email.flag"]})
        mail = {"type": "email.received", "data": {"message_id": "<m1@example.org>"}}
        schema = with_proposals(template.output, proposal_schema(route, mail))
        reply = backend.complete([{"role": "user", "content": "Reply in JSON."}], Options(max_tokens=12, schema=schema))
        assert reply.completion_tokens > 0, path.stem
        sent += 1
    assert sent >= 5 and server.proc.poll() is None
    (llm_home / "assist.toml").write_text((REPO / "assist.toml").read_text() + "\n" +
                                          server_model(server.url, json_mode='"json_schema"', retries="0"))
    with pytest.raises(ModelUnavailable, match="Input should be 'text' or 'json_object'"):
        Models(load(llm_home)).get("server").complete([{"role": "user", "content": "hi"}],
                                                      Options(max_tokens=5, schema=SCHEMA))


def test_a_servers_error_is_shown_in_its_own_words(home):
    """An OpenAI-style error body (a grammar it cannot compile, a model it lacks) is in the message."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuses(BaseHTTPRequestHandler):
        def do_POST(self):
            body = orjson.dumps({"error": {"message": "failed to parse grammar\nat rule 12\x1b[2J"}})
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Refuses)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        configure(home, server_model(f"http://127.0.0.1:{httpd.server_port}/v1", retries="0"))
        backend = Models(load(home)).get("server")
        with pytest.raises(ModelUnavailable) as caught:
            backend.complete([{"role": "user", "content": "hi"}], Options(max_tokens=5, schema=SCHEMA))
        assert "answered 500: failed to parse grammar at rule 12" in str(caught.value)
        assert "\x1b" not in str(caught.value)
    finally:
        httpd.shutdown()
