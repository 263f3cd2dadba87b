"""The `ollama` backend against a double of Ollama's API; the repair round of the output parser."""

from __future__ import annotations

import json
import tomllib

import orjson
import pytest

from assist.ai.backends.base import ModelUnavailable, Options
from assist.ai.models import Models
from assist.config_file import load
from conftest import REPO, jsonl
from helpers.ollama_double import OllamaDouble


@pytest.fixture
def ollama(home):
    double = OllamaDouble(["llama3.2:latest"])
    with (home / "assist.toml").open("a") as f:
        f.write(f'\n[models.local]\nbackend = "ollama"\nurl = "{double.url}"\nmodel = "llama3.2"\ncontext = 8192\n'
                '[routes.items]\ntemplate = "action-items"\n')
    yield double
    double.close()


def test_chat_sets_num_ctx_from_the_prompt_and_passes_the_schema(home, ollama):
    backend = Models(load(home)).get("local")
    backend.health()
    ollama.replies.append('{"items": []}')
    short = [{"role": "user", "content": "hi"}]
    reply = backend.complete(short, Options(max_tokens=100, schema={"type": "object"}))
    assert reply.text == '{"items": []}' and reply.completion_tokens == 2
    sent = ollama.requests[-1]
    assert sent["stream"] is False and sent["format"] == {"type": "object"}
    assert sent["options"]["num_ctx"] == 512 and sent["options"]["num_predict"] == 100
    long = [{"role": "user", "content": "word " * 3000}]  # 15,000 bytes: about 5,000 tokens by the estimate
    backend.complete(long, Options(max_tokens=500))
    num_ctx = ollama.requests[-1]["options"]["num_ctx"]
    assert num_ctx % 512 == 0 and backend.count_messages(long) + 500 <= num_ctx <= 8192
    huge = [{"role": "user", "content": "word " * 30000}]
    backend.complete(huge, Options(max_tokens=500))
    assert ollama.requests[-1]["options"]["num_ctx"] == 8192  # never past the model's context


def test_streaming_ndjson(home, ollama):
    backend = Models(load(home)).get("local")
    ollama.replies.append("one two three four")
    stream = backend.stream([{"role": "user", "content": "count"}], Options())
    pieces = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as ended:
            assert ended.value == "stop"  # the last line's done_reason
            break
    assert "".join(pieces).split() == ["one", "two", "three", "four"] and len(pieces) == 4
    assert ollama.requests[-1]["stream"] is True


def test_health_names_a_missing_model(home, ollama):
    ollama.models = ["mistral:latest"]
    with pytest.raises(ModelUnavailable, match=r"does not have 'llama3.2' \(has: mistral:latest\); run `ollama pull"):
        Models(load(home)).get("local").health()


def test_one_repair_round_fixes_a_bad_reply(home, ollama, cli):
    ollama.replies += ["Sure! The items are: buy milk", '```json\n{"items": [{"task": "buy milk"}]}\n```']
    task = {"type": "text", "data": {"text": "Please buy milk.", "from": "ann"}, "intent": {"route": "items"}}
    answered = cli(["run"], input=cli(["prompt"], input=jsonl(task)).out)
    assert answered.code == 0, answered.err
    result = answered.lines[0]["result"]
    assert result["parsed"] == {"items": [{"task": "buy milk"}]} and result["repaired"] is True
    repair = ollama.requests[-1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Sure! The items are: buy milk"}
    assert "could not be used: the reply holds no JSON value" in repair[-1]["content"]


def test_a_reply_still_wrong_after_repair_fails_the_task_readably(home, ollama, cli):
    ollama.replies += ['{"items": "milk"}', '{"things": []}']
    task = {"type": "text", "data": {"text": "Please buy milk."}, "intent": {"route": "items"}}
    answered = cli(["run"], input=cli(["prompt"], input=jsonl(task)).out)
    assert answered.code == 1
    assert "model local replied with unusable JSON twice: the reply: keys the schema does not allow: 'things'" \
        in answered.err
    [failed] = list((home / "spool" / "run" / "failed").glob("*.json"))
    assert "unusable JSON" in orjson.loads(failed.read_bytes())["meta"]["last_error"]


def test_an_unusable_reply_is_not_quoted_in_errors_nor_the_log(home, ollama, cli):
    """A reply repeats the mail: a schema error quoting it put the mail's words in the task's error, the
    log and alerts. The model is shown its words in the repair round; people see the schema's words."""
    mail = "Your new PIN is 4417, do not share it"
    ollama.replies += [json.dumps({"items": mail}), json.dumps({"items": mail})]
    task = {"type": "text", "data": {"text": mail}, "intent": {"route": "items"}}
    answered = cli(["run"], input=cli(["prompt"], input=jsonl(task)).out)
    assert answered.code == 1 and "items: the value is not of type \"array\"" in answered.err
    assert f'"{mail}" is not of type' in ollama.requests[-1]["messages"][-1]["content"]  # the repair round
    [failed] = list((home / "spool" / "run" / "failed").glob("*.json"))
    said = answered.err + orjson.loads(failed.read_bytes())["meta"]["last_error"]
    said += "".join(f.read_text() for f in (home / "logs").glob("*"))
    assert "4417" not in said


def test_busy_and_failing_servers_are_retried_with_backoff(home, ollama):
    config = home / "assist.toml"
    config.write_text(config.read_text().replace("context = 8192\n", "context = 8192\nretries = 2\nbackoff = 0.01\n"))
    backend = Models(load(home)).get("local")
    ollama.failures += [429, 503]
    ollama.replies.append("fine")
    assert backend.complete([{"role": "user", "content": "hi"}], Options()).text == "fine"
    assert len(ollama.requests) == 3  # two refused, the third answered
    ollama.failures += [500, 502, 503]
    with pytest.raises(ModelUnavailable, match="answered 503"):
        backend.complete([{"role": "user", "content": "hi"}], Options())


def test_a_reply_with_lone_surrogate_escapes_is_answered_and_kept(home, ollama, cli):
    """A model's reply is untrusted (a mail can steer it): JSON's "\\ud800" escapes decode to lone
    surrogates in Python, which no JSON writer takes. `assist run` read such a reply and then could not
    write its own task: the batch's answers were lost in a traceback. Now the reply's text and parsed
    value are made valid UTF-8 (U+FFFD for what no character is) and the task goes on."""
    ollama.replies.append('{"items": [{"task": "buy milk \\ud800 and \\udcff eggs"}]}')
    tasks = [{"type": "text", "data": {"text": "Please buy milk."}, "intent": {"route": "items"}},
             {"type": "text", "data": {"text": "And bread."}, "intent": {"route": "items"}}]
    ollama.replies.append('{"items": [{"task": "buy bread"}]}')
    answered = cli(["run"], input=cli(["prompt"], input=jsonl(*tasks)).out)
    assert answered.code == 0, answered.err
    first, second = (t["result"] for t in answered.lines)
    assert first["parsed"] == {"items": [{"task": "buy milk \ufffd and \ufffd eggs"}]}
    assert second["parsed"] == {"items": [{"task": "buy bread"}]}


TRIAGE = '[routes.triage]\ntemplate = "email-triage"\n'
NO_TEXT = {"type": "email.received", "intent": {"route": "triage"},
           "data": {"from": "ana@example.org", "subject": "Meeting notes", "body_text": "",
                    "attachments": [{"name": "notes-3-dec.pdf", "content_type": "application/pdf", "size": 9}]}}


def triage_reply(summary: str) -> str:
    return orjson.dumps({"summary": summary, "category": "work", "urgency": "low", "needs_reply": False}).decode()


def test_a_summary_naming_what_the_mail_does_not_is_flagged_and_the_note_says_so(home, ollama, cli):
    # what the default 1.5B model wrote for a mail with no text (2026-12-02): names and a date out of nowhere
    invented = "Ana wants to discuss project updates with Bob and Charlie on 2023-10-15."
    ollama.replies.append(triage_reply(invented))
    # the default triage route's note (the checkout's assist.toml), in a vault of this home
    default = tomllib.loads((REPO / "assist.toml").read_text())["routes"]["triage"]["fixed"][0]
    with (home / "assist.toml").open("a") as f:
        f.write(TRIAGE + 'actions = ["notes.append"]\n[[routes.triage.fixed]]\ntype = "notes.append"\n'
                f'args.note = "Inbox summary"\nargs.text = {json.dumps(default["args"]["text"])}\n'
                f'[actions.notes]\nvault = "{home / "vault"}"\n')
    prompted = cli(["prompt"], input=jsonl(NO_TEXT))
    assert prompted.code == 0, prompted.err
    prompt = prompted.lines[0]["prompt"]
    assert prompt["grounded"] == ["summary"]
    assert "no text of its own" in prompt["messages"][-1]["content"]  # said, not left blank
    assert "Attached: notes-3-dec.pdf (application/pdf)" in prompt["messages"][-1]["content"]
    answered = cli(["run"], input=prompted.out)
    assert answered.code == 0, answered.err
    result = answered.lines[0]["result"]
    assert result["parsed"]["summary"] == invented and result["ungrounded"] == ["2023-10-15", "Bob", "Charlie"]
    assert len(ollama.requests) == 1  # flagged, not asked again (that did not help: bench/README.md, quality)
    assert cli(["act"], input=answered.out).code == 0
    note = (home / "vault" / "Inbox summary.md").read_text()
    assert f"{invented} (the mail does not say: 2023-10-15, Bob, Charlie)" in note


def test_what_the_mail_states_anywhere_in_its_data_is_not_flagged(home, ollama, cli):
    # "Dec" is the attachment's; the quoted reply the prompt leaves out is still the mail's own text
    mail = {**NO_TEXT, "data": {**NO_TEXT["data"], "body_text": "See the notes.\n\n> Eve wrote: budget is 40k"}}
    ollama.replies.append(triage_reply("Ana sent notes-3-dec.pdf on Meeting notes; Eve's budget is 40k."))
    with (home / "assist.toml").open("a") as f:
        f.write(TRIAGE)
    answered = cli(["run"], input=cli(["prompt"], input=jsonl(mail)).out)
    assert answered.code == 0, answered.err
    assert "Eve" not in answered.lines[0]["prompt"]["messages"][-1]["content"]
    assert "ungrounded" not in answered.lines[0]["result"]
