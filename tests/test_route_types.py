"""A route takes the task types it says (`[routes.NAME] types`, globs; a request route takes typed
requests only): a task of another type is never placed on it, by a rule, the intent model, the LLM
fallback or a person. A feed's item that reads as spam took the mail-only spam route, whose move of the
item's own Message-ID was then refused: now what the model gave the spam route is doubt, and the item
is held for a person; an ordinary item goes on to the routes that take it."""

from __future__ import annotations

import orjson

from conftest import REPO, jsonl, run

SPAMMY = {"subject": "You have been selected for a free prize, claim your cash reward today",
          "body_text": "Make money fast from home, click here, limited time offer"}


def classify(*docs: dict) -> list[dict]:
    r = run(["classify"], input=jsonl(*docs), timeout=300)
    assert r.code == 0, r.err
    return [orjson.loads(line) for line in r.out.splitlines()]


def test_a_feed_item_that_reads_as_spam_is_not_placed_on_the_mail_only_spam_route(home):
    (home / "assist.toml").write_text((REPO / "assist.toml").read_text())
    ordinary = {"subject": "Here are the photos from the weekend", "body_text": "Dinner at our place on Saturday?"}
    docs = [{"type": "feed.item", "data": SPAMMY},
            {"type": "email.received", "data": {**SPAMMY, "from": "w@p.example"}},
            {"type": "feed.item", "data": ordinary}]
    r = run(["classify"], input=jsonl(*docs), timeout=300)
    assert r.code == 0, r.err
    mail, item = [orjson.loads(line) for line in r.out.splitlines()]
    assert mail["intent"]["route"] == "spam"  # a mail like it: the spam route, as before
    assert item["data"] == ordinary and item["intent"]["route"] == "triage", item["intent"]
    assert "spam" not in [label["name"] for label in item["intent"]["top"]]
    held = [line for line in r.err.splitlines() if "held:" in line]  # the spammy item: held, not filed
    assert len(held) == 1 and "the model's best route for it, spam (0.9" in held[0], r.err
    assert "does not take feed.item" in held[0]
    explained = run(["classify", "explain", "--text", SPAMMY["subject"]]).json()  # a text: not a mail
    assert explained["route"] == "fallback" and explained["not_for_type"]["spam"] > 0.8, explained
    as_mail = run(["classify", "explain", "--text", SPAMMY["subject"], "--type", "email.received"]).json()
    assert as_mail["route"] == "spam" and "not_for_type" not in as_mail, as_mail


ROUTES = """
[[rules]]
name = "ask-me"
route = "fallback"
match = {field = "data.subject", equals = "hold me"}

[[rules]]
name = "lists"
route = "newsletter"
match = {field = "data.subject", regex = "^\\\\[list\\\\]"}

[[rules]]
name = "budget"
route = "triage"
match = {field = "data.text", contains = "budget"}

[routes.newsletter]
types = ["email.*"]
actions = ["email.move"]

[routes.triage]
examples = ["the report you asked for is ready", "dinner on saturday?", "your invoice is attached"]

[routes.garden]
types = ["email.*", "feed.*"]
examples = ["plant tulip bulbs", "mow the lawn", "prune the roses"]

[routes.agenda]
request = true
examples = ["what is on my calendar today", "am i free tomorrow afternoon"]
template = "agenda-answer"
"""


def test_a_rule_does_not_place_a_task_on_a_route_that_does_not_take_its_type(home):
    (home / "assist.toml").write_text(ROUTES)
    mail, item = classify({"type": "email.received", "data": {"subject": "[list] weekly"}},
                          {"type": "webhook.news", "data": {"subject": "[list] weekly"}})
    assert mail["intent"]["route"] == "newsletter"
    assert item["intent"]["route"] != "newsletter" and item["intent"]["by"] != "rule:lists", item["intent"]
    [event] = classify({"type": "text", "data": {"text": "the budget for march"}})
    assert event["intent"]["by"] == "rule:budget"
    request = run(["classify"], input=jsonl({"type": "request", "data": {"text": "the budget for march"}}))
    assert request.code == 0 and "rule:budget" not in request.out, request.out  # request routes only
    assert request.out or "held:" in request.err


def test_a_person_cannot_give_a_task_a_route_that_does_not_take_its_type(home):
    (home / "assist.toml").write_text(ROUTES)
    item = {"type": "webhook.news", "data": {"subject": "hold me"}}
    mail = {"type": "email.received", "data": {"subject": "hold me"}}
    assert run(["enqueue", "--queue", "inbox"], input=jsonl(item, mail)).code == 0
    assert run(["classify", "--from", "inbox", "--to", "act", "--once"], timeout=300).code == 0
    held = {row["type"]: row["id"] for row in run(["queue", "ls", "--state", "hold", "--json"]).json()}
    assert sorted(held) == ["email.received", "webhook.news"]

    refused = run(["queue", "approve", held["webhook.news"], "--route", "newsletter"])
    assert refused.code == 2 and "Traceback" not in refused.err
    assert "route newsletter takes email.* tasks, not webhook.news" in refused.err, refused.err
    refused = run(["queue", "approve", held["email.received"], "--route", "agenda"])
    assert refused.code == 2 and "route agenda takes typed requests" in refused.err, refused.err
    refused = run(["classify", "teach", held["webhook.news"], "garden"])
    assert refused.code == 2 and "takes email.*, feed.* tasks, not webhook.news" in refused.err, refused.err
    assert len(run(["queue", "ls", "--state", "hold", "--json"]).json()) == 2  # nothing changed

    assert run(["queue", "approve", held["webhook.news"], "--route", "triage"]).code == 0
    assert run(["queue", "approve", held["email.received"], "--route", "garden"]).code == 0


def test_the_routes_offered_for_a_task_are_those_that_take_it():
    import tomllib

    from assist.task import offered_routes

    routes = tomllib.loads(ROUTES)["routes"]
    assert offered_routes(routes, "email.received") == ["newsletter", "triage", "garden"]
    assert offered_routes(routes, "feed.item") == ["triage", "garden"]
    assert offered_routes(routes, "webhook.news") == ["triage"]
    assert offered_routes(routes, "request") == ["agenda"]


def test_the_llm_fallback_is_offered_only_the_routes_that_take_the_task():
    import tomllib
    from pathlib import Path

    from assist.config import Config
    from assist.decide.llm_fallback import route_list

    config = Config(Path("."), None, tomllib.loads(ROUTES))
    assert [r["name"] for r in route_list(config, {"type": "webhook.news"})] == ["triage"]
    assert [r["name"] for r in route_list(config, {"type": "feed.item"})] == ["triage", "garden"]


def test_types_are_checked_with_the_config(home):
    (home / "assist.toml").write_text(ROUTES + '\n[routes.bad]\ntypes = "email.*"\n')
    r = run(["config", "check"])
    assert r.code != 0 and "types" in r.err + r.out
    (home / "assist.toml").write_text(ROUTES.replace('request = true\n', 'request = true\ntypes = ["email.*"]\n'))
    r = run(["config", "check"])
    assert r.code != 0 and "a request route takes typed requests only" in r.err + r.out, r.err + r.out


def test_config_check_points_out_a_mail_route_that_takes_every_type(home):
    """A home made before `types`: its spam route moves `{{ data.message_id }}` and takes a feed's item too.
    The plan refuses that move for what is not a mail; config check says how to keep such items off it."""
    from assist.config_file import read, warnings

    shipped = (REPO / "assist.toml").read_text()
    assert not [w for w in warnings(read(REPO / "assist.toml"), REPO / "assist.toml") if "types" in w]
    (home / "assist.toml").write_text(shipped.replace('types = ["email.*"]', ""))
    r = run(["config", "check"])
    said = [line for line in (r.out + r.err).splitlines() if "the route takes every type" in line]
    assert len(said) == 4, r.out + r.err  # spam, newsletter, urgent, flag
    assert all(line.startswith("warning: ") for line in said)  # said, not refused
    assert any("routes.spam: its email.move acts on the task's own mail" in line and 'types = ["email.*"]' in line
               for line in said), said


def test_the_shipped_routes_offer_a_person_what_fits_the_task():
    """A held mail is offered the mail routes and triage, not the calendar week's or the changed files'
    digest (whose templates read a week's events or a folder's changes); a feed's item triage alone."""
    import tomllib

    from assist.task import offered_routes

    routes = {name: route for name, route in tomllib.loads((REPO / "assist.toml").read_text())["routes"].items()
              if not route.get("request")}
    assert offered_routes(routes, "email.received") == ["triage", "spam", "newsletter", "urgent", "flag"]
    assert offered_routes(routes, "file.created") == ["triage", "files"]
    assert offered_routes(routes, "calendar.week") == ["triage", "calendar"]
    assert offered_routes(routes, "feed.item") == ["triage"]


def test_a_persons_route_is_not_taken_once_that_route_no_longer_takes_the_task(home):
    """Routed by a person (approve --route), then the route was given `types` that leave the task out
    before classify ran again: the person's choice is not applied; the task is decided afresh."""
    (home / "assist.toml").write_text(ROUTES)
    assert run(["enqueue", "--queue", "inbox"], input=jsonl({"type": "webhook.news", "data": {"subject": "hold me"}})
               ).code == 0
    assert run(["classify", "--from", "inbox", "--to", "act", "--once"], timeout=300).code == 0
    [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
    assert run(["queue", "approve", held["id"], "--route", "triage"]).code == 0
    (home / "assist.toml").write_text(ROUTES.replace("[routes.triage]\n", '[routes.triage]\ntypes = ["email.*"]\n'))
    assert run(["classify", "--from", "inbox", "--to", "act", "--once"], timeout=300).code == 0
    [again] = run(["queue", "ls", "--json"]).json()  # not gone on to act: held again
    assert (again["id"], again["queue"], again["state"]) == (held["id"], "inbox", "hold"), again
    assert run(["queue", "show", held["id"]]).json()["task"]["intent"]["by"] == "rule:ask-me"
