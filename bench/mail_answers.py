"""How `assist ask` answers questions about the person's mail (run by `scripts/bench mail_answers`): the 40
mails of bench/data/quality (SpamAssassin's public corpus, with the key facts of each written down:
bench/data/quality/README.md) delivered to a real dovecot, and of each the question a person would ask of
it, made from its sender and subject ("what did Gary say about raid"), through the real `asking.ask`:
routing among the request routes, the IMAP search, the model's answer and its check. The default model
(`--model` for another catalog model).

The anchor, measured in the same run with no model: the newest mail found, said as "NAME wrote about
SUBJECT: " and the first sentence of what it says (the words the model is given).

Per question:
- routed: the request went to search_mail;
- found: the mail asked about is the newest the search found (the model is given what it says);
- sender named: the answer names who wrote (a word of their name, or their address);
- key-fact recall: of the mail's key facts (labels.jsonl, each a list of alternatives, matched as lower-case
  substrings), the share the answer has; and of those within what the model is given (the start of what
  the mail says, its subject), the share it has;
- flagged: answers `assist ask` prints a check under (asking.answer_notices: a name, a link or a "none"
  that nothing it was given has);
- "the user": answers that speak of the person as "the user" rather than "you";
- has them write it: answers that say the person wrote, sent or replied (none of these mails is theirs:
  "You wrote to Adam, who replied that ...");
- words per answer, seconds per answer.

Then (`--part many`, or both by default) the questions of many mails a person asks ("summarise my unread
mail", "what came in today", "anything new overnight"), each of which finds several of the 40: what
assist answers (since 2026-12-07 with no model, what the newest three say: mail_search.said_by_the_newest;
the model's answers, measured before, are in bench/README.md). Of the newest three found (the mails whose
words are read), per answer:
- senders named: the share of the three whose sender the answer names;
- key-fact recall of what it was given: of the three mails' key facts within their subject and the start
  of what they say, the share the answer has;
- misattributed: key facts the answer says after naming one sender that are another of the three's
  (and not this one's): "Gary wrote to you about the Dell and DNUK" when Padraig wrote that;
- beyond the three: answers that name a sender of the listing the model was not given the words of
  (it copies the listing rather than says what the mails say);
- cut: answers that ran into the route's max_tokens; flagged: as above; words and seconds per answer.
The anchor, with no model: "NAME wrote about SUBJECT: " and the first sentence of each of the three.

Then (`--part replies`, not part of both) of each mail a typed reply, "reply to NAME's mail about WORD saying
I will get back to you on this tomorrow", through the real `asking.ask` (the senders are people the person
has written to, as a reply by name needs): the draft_email route finds the mail and the model writes the
reply. Per request:
- made: a draft was planned (not refused: "who is ana: ...?" when two senders have the name);
- the mail: the draft answers the mail asked about (its Message-ID), threaded (In-Reply-To, "Re: " subject);
- on topic: the draft's body has one of the mail's key facts at least; recall: the share of them it has;
- said: the body says what was asked ("tomorrow");
- flagged: the grounding check names what the body states and nothing it was given does; blanks:
  "[Your Name]" and the like left to fill.
The anchor, in the same run: the same request as the route was before 2026-12-08, the model given the
request alone (no mail: a new mail to the sender, no thread).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data" / "quality"
# an answer that has the person write a mail they were sent ("You wrote to Adam, who replied ...")
THEY_WROTE = re.compile(r"(?i)\b(?:you|the user)\s+(?:wrote|sent|emailed|mailed|replied|asked)\b")
NOW = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
# questions of many mails, as a person asks them (the 40 mails arrive one an hour up to 14:00 on NOW's day)
MANY = ("summarise my unread mail", "what did i miss?", "any new mail?", "what came in today",
        "summarise the mail of the last three hours", "what mail did i get yesterday", "hey check my email",
        "read me my emails from this morning", "give me a summary of my email from the last 6 hours",
        "anything new overnight")


def labels() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "labels.jsonl").read_text().splitlines() if line.strip()]


def question(data: dict[str, Any]) -> tuple[str, list[str]]:
    """The question a person would ask of a mail, and the words that name its sender: "what did NAME say
    about WORD", NAME the first word of the sender's name (else their address's first part), WORD the
    subject's longest word a search would look for."""
    from assist.mail_search import FUNCTION_WORDS, STOP_WORDS

    name, address = parseaddr(str(data.get("from") or ""))  # "That Goddess Chick": "what did Goddess say"
    words = [w for w in re.findall(r"[^\W\d_]+", name) if len(w) > 1 and w.lower() not in FUNCTION_WORDS]
    who = words[0] if words else re.split(r"[^\w]", address.partition("@")[0])[0] or address
    subject = [w for w in re.findall(r"[^\W\d_]{4,}", str(data.get("subject") or ""))
               if w.lower() not in STOP_WORDS | {"fwd", "re", "fw"}]
    about = max(subject, key=len).lower() if subject else ""
    asked = f"what did {who} say about {about}" if about else f"what did {who} write"
    local = [w for w in re.split(r"[._+-]", address.partition("@")[0]) if len(w) > 2]  # hauns_froehlingsdorf
    return asked, [w.lower() for w in [*words, *local, address] if w]


def recall(text: str, facts: list[list[str]]) -> tuple[int, int]:
    low = text.lower()
    return sum(any(alt.lower() in low for alt in fact) for fact in facts), len(facts)


def anchor(data: dict[str, Any]) -> str:
    """The answer with no model: who wrote, about what, and the first sentence of what the newest says."""
    found, says = data.get("found") or [], data.get("found_says") or []
    if not found:
        return "No mail found."
    line = found[0].split(" ", 2)[-1]  # "Gary <g@x>: Subject"
    first = re.split(r"(?<=[.!?])\s", says[0], maxsplit=1)[0] if says and says[0] else ""
    return f"{line.replace(': ', ' wrote about: ', 1)}. {first}"


def anchor_many(data: dict[str, Any]) -> str:
    """The answer of many mails with no model: who wrote, about what, and the first sentence, of each the
    model is given the words of."""
    found, says = data.get("found") or [], data.get("found_says") or []
    said = []
    for line, words in zip(found, says, strict=False):
        if words:
            first = re.split(r"(?<=[.!?])\s", words, maxsplit=1)[0]
            said.append(f"{line.split(' ', 2)[-1].replace(': ', ' wrote about: ', 1)}. {first}")
    return " ".join(said) or "No mail found."


def _mentions(answer: str, words: list[str]) -> int | None:
    """Where the answer first names a sender (any of their words, as a word), else None."""
    low = answer.lower()
    at = [m.start() for w in words if len(w) > 2 for m in [re.search(rf"(?<!\w){re.escape(w)}(?!\w)", low)] if m]
    return min(at) if at else None


def many_figures(answer: str, given: list[tuple[list[str], list[list[str]], str]],
                 beyond: list[list[str]]) -> dict[str, Any]:
    """An answer of many mails against the mails it was given the words of (each: its sender's words, its
    key facts within what it was given, and that: its line and what it says) and the senders of the
    listing beyond them."""
    named = [(at, n) for n, (sender, *_) in enumerate(given) if (at := _mentions(answer, sender)) is not None]
    named.sort()
    wrong = 0
    for k, (at, n) in enumerate(named):  # what is said from one sender's name to the next is said of them
        part = answer[at:named[k + 1][0] if k + 1 < len(named) else len(answer)].lower()
        same = [m for m, each in enumerate(given) if each[0] == given[n][0]]  # two mails of one sender
        own = " ".join(given[m][2] for m in same).lower()
        for m, (_, facts, _) in enumerate(given):  # a fact of another's that this one's words do not have
            if m not in same:
                wrong += sum(any(alt.lower() in part and alt.lower() not in own for alt in fact) for fact in facts)
    facts = [fact for _, each, _ in given for fact in each]
    return {"senders": (len(named), len(given)), "recall_given": recall(answer, facts), "misattributed": wrong,
            "beyond": any(_mentions(answer, sender) is not None for sender in beyond)}


def _sender_words(line: str) -> list[str]:
    """The words that name the sender of a listing line ("2026-12-09 14:00 Gary Lee <g@x.org>: Subject")."""
    name, address = parseaddr(line.split(" ", 2)[-1].split(": ", 1)[0])
    words = [w.lower() for w in re.findall(r"[^\W\d_]+", name) if len(w) > 2]
    local = [w.lower() for w in re.split(r"[._+-]", address.partition("@")[0]) if len(w) > 2]
    return [*words, *local, address.lower()] if address else words


def ask_many(config: Any, mails: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The questions of many mails (MANY) through `ask`, each with its figures and the anchor's."""
    from assist.asking import answer_notices, ask

    by_subject = {" ".join(str(mails[r["file"]].get("subject") or "").split())[:40]: r for r in rows}
    per = []
    for text in MANY:
        started = time.perf_counter()
        task = ask(config, text, NOW)
        seconds = time.perf_counter() - started
        data = task["data"]
        answer = str((task.get("result") or {}).get("text") or data.get("answer") or "")
        found, says = data.get("found") or [], data.get("found_says") or []
        given = []
        for line, words in zip(found, says, strict=False):
            row = next((r for subject, r in by_subject.items() if subject and subject in line), None)
            within = [fact for fact in (row or {}).get("facts", [])
                      if any(alt.lower() in (line + " " + words).lower() for alt in fact)]
            given.append((_sender_words(line), within, line + " " + words))
        beyond = [sender for line in found[len(says):] if (sender := _sender_words(line)) not in
                  [each[0] for each in given]]  # a sender of a mail given the words of is not beyond them
        base = anchor_many(data)
        per.append({"question": text, "answer": answer, "seconds": seconds, "found": len(found),
                    "total": data.get("found_total") or len(found), "given": len(given),
                    "route": task["intent"]["route"],
                    "cut": (task.get("result") or {}).get("finish_reason") == "length",
                    "flagged": any(not n.startswith("(the answer was cut") for n in answer_notices(task)),
                    "words": len(answer.split()), "anchor": base,
                    **many_figures(answer, given, beyond),
                    **{f"anchor_{k}": v for k, v in many_figures(base, given, beyond).items()}})
        print(f"{text!r} -> {answer[:240]!r}", file=sys.stderr)
    return per


REPLY_SAID = "I will get back to you on this tomorrow"


def _draft_figures(body: str, facts: list[list[str]], task: dict[str, Any]) -> dict[str, Any]:
    from assist.ai.grounding import BLANK

    return {"on_topic": recall(body, facts)[0] > 0, "recall": recall(body, facts),
            "said": "tomorrow" in body.lower(), "flagged": bool((task.get("result") or {}).get("ungrounded")),
            "blanks": bool(BLANK.search(body)), "words": len(body.split())}


def ask_replies(config: Any, mails: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A typed reply to each mail through `ask` (its draft planned, not approved), with its figures, and the
    anchor's: the same request's prompt without the mail (the route as it was), through the same model."""
    import copy

    from assist.act.plan import proposal_schema
    from assist.ai import grounding
    from assist.ai.models import Models
    from assist.ai.prompting import PromptBuilder
    from assist.ai.running import run_prompt
    from assist.asking import ask
    from assist.correspondents import Correspondents

    Correspondents.of(config).remember([str(data.get("from") or "") for data in mails.values()])
    models = Models(config)
    per = []
    for row in rows:
        data = mails[row["file"]]
        asked, _ = question(data)
        who, _, about = asked.removeprefix("what did ").partition(" say about ")
        text = f"reply to {who.removesuffix(' write')}'s mail{f' about {about}' if about else ''} saying {REPLY_SAID}"
        started = time.perf_counter()
        task = ask(config, text, NOW)
        seconds = time.perf_counter() - started
        drafts = [a for a in task.get("actions", []) if a.get("type") == "email.draft"]
        args = drafts[0]["args"] if drafts else {}
        reply = task["data"].get("reply") or {}
        subject = " ".join(str(data.get("subject") or "").split())
        figures: dict[str, Any] = {"file": row["file"], "request": text, "seconds": seconds, "made": bool(drafts),
                                   "refusal": task["data"].get("answer"), "body": args.get("body", "")}
        figures["the_mail"] = bool(reply) and reply.get("message_id") == data.get("message_id")
        figures["threaded"] = figures["the_mail"] and args.get("in_reply_to") == data.get("message_id") and \
            args.get("subject", "").lower().removeprefix("re: ") == subject.lower().removeprefix("re: ")
        figures.update(_draft_figures(args.get("body", ""), row["facts"], task) if drafts else {})
        if drafts:  # the anchor: the prompt as the route had it, with no mail
            before = copy.deepcopy(task)
            for key in ("reply", "found"):
                before["data"].pop(key, None)
            section = PromptBuilder(config, models, proposals=proposal_schema).build(before)
            before["prompt"] = section
            before["result"] = run_prompt(section, models, None)
            grounding.check(before)
            body = str((before["result"].get("parsed") or {}).get("body") or "")
            figures.update({f"anchor_{k}": v for k, v in _draft_figures(body, row["facts"], before).items()})
            figures["anchor_body"] = body
        per.append(figures)
        print(f"{row['file']}: {text!r} -> {figures.get('body', '')[:160]!r} | {figures.get('refusal')}",
              file=sys.stderr)
    return per


def run(model: str, parts: str = "both") -> dict[str, Any]:
    from assist.ai.pull import find, pull
    from assist.asking import answer_notices, ask
    from assist.config_file import load
    from assist.demo.servers import start_dovecot
    from assist.ingest.mail import parse_message

    item = find(model)
    gguf = pull(REPO / "models", item, log=lambda m: print(m, file=sys.stderr))
    rows = labels()
    imap = start_dovecot()
    os.environ["BENCH_IMAP_PASSWORD"] = imap.password
    per: list[dict[str, Any]] = []
    try:
        mails = {}
        for n, row in enumerate(rows):
            raw = (DATA / row["file"]).read_bytes()
            mails[row["file"]] = parse_message(raw)
            imap.deliver(raw, n, (NOW - timedelta(hours=len(rows) - n)).timestamp())  # each its own arrival
        with tempfile.TemporaryDirectory(prefix="bench-mail-answers-") as tmp:
            home = Path(tmp)
            (home / "models").mkdir()
            (home / "models" / gguf.name).symlink_to(gguf)
            (home / "assist.toml").write_text(
                (REPO / "assist.toml").read_text()
                + f'[actions.imap]\nhost = "127.0.0.1"\nport = {imap.port}\nsecurity = "plain"\n'
                  f'username = "{imap.user}"\npassword_env = "BENCH_IMAP_PASSWORD"\n'
                + f'\n[models.embedded]\nbackend = "llamacpp"\npath = "{item.name}"\nseed = 1\n')
            os.environ["ASSIST_HOME"] = str(home)
            config = load(home)
            ask(config, "how many emails did i get today", NOW)  # the request model trained, the model loaded
            many = ask_many(config, mails, rows) if parts in ("many", "both") else []
            replies = ask_replies(config, mails, rows) if parts == "replies" else []
            for row in rows if parts in ("one", "both") else []:
                data = mails[row["file"]]
                text, sender = question(data)
                started = time.perf_counter()
                task = ask(config, text, NOW)
                seconds = time.perf_counter() - started
                answer = str((task.get("result") or {}).get("text") or task["data"].get("answer") or "")
                read = task["data"].get("found_says") or []  # the newest few, whose words the model is given
                given = " ".join([*(task["data"].get("found") or [])[:len(read)], *read])
                within = [fact for fact in row["facts"] if any(alt.lower() in given.lower() for alt in fact)]
                subject = " ".join(str(data.get("subject") or "").split())[:40]
                newest = any(subject in line for line in (task["data"].get("found") or [])[:max(1, len(read))])
                per.append({"file": row["file"], "question": text, "answer": answer, "seconds": seconds,
                            "routed": task["intent"]["route"] == "search_mail", "found": newest,
                            "sender": any(s in answer.lower() for s in sender),
                            "recall": recall(answer, row["facts"]), "recall_given": recall(answer, within),
                            "flagged": bool(answer_notices(task)), "the_user": "the user" in answer.lower(),
                            "they_wrote": bool(THEY_WROTE.search(answer)),
                            "words": len(answer.split()), "anchor": anchor(task["data"]),
                            "anchor_sender": any(s in anchor(task["data"]).lower() for s in sender),
                            "anchor_recall": recall(anchor(task["data"]), row["facts"]),
                            "anchor_recall_given": recall(anchor(task["data"]), within)})
                print(f"{row['file']}: {text!r} -> {answer[:160]!r}", file=sys.stderr)
    finally:
        imap.stop()
    return {"model": item.name, "per": per, "many": many, "replies": replies}


def share(rows: list[dict[str, Any]], key: str) -> float:
    return sum(bool(r[key]) for r in rows) / max(1, len(rows))


def ratio(rows: list[dict[str, Any]], key: str) -> float:
    got, total = sum(r[key][0] for r in rows), sum(r[key][1] for r in rows)
    return got / total if total else 0.0


def report_many(result: dict[str, Any]) -> None:
    rows = result["many"]
    print(f"{result['model']}: {len(rows)} questions of many mails, "
          f"{sum(r['route'] == 'search_mail' for r in rows)} routed to search_mail, "
          f"{sum(r['found'] > 1 for r in rows)} found more than one, "
          f"{sum(r['seconds'] for r in rows) / max(1, len(rows)):.1f} s/answer")
    print("  of the newest three found (their words read) | assist | anchor (who, subject, first sentence) |")
    for label, key in (("senders named             ", "senders"), ("key-fact recall of those  ", "recall_given")):
        model, anchored = ratio(rows, key), ratio(rows, f"anchor_{key}")
        print(f"  {label} | {model:.2f} | {anchored:.2f} |")
    print(f"  facts misattributed       | {sum(r['misattributed'] for r in rows)} | "
          f"{sum(r['anchor_misattributed'] for r in rows)} |")
    print(f"  names a sender beyond them | {sum(r['beyond'] for r in rows)} of {len(rows)} | "
          f"{sum(r['anchor_beyond'] for r in rows)} |")
    print(f"  cut at max_tokens          | {sum(r['cut'] for r in rows)} | - |")
    print(f"  flagged (but cut)          | {sum(r['flagged'] for r in rows)} | - |")
    print(f"  words per answer           | {sum(r['words'] for r in rows) / max(1, len(rows)):.0f} | "
          f"{sum(len(r['anchor'].split()) for r in rows) / max(1, len(rows)):.0f} |")


def report_replies(result: dict[str, Any]) -> None:
    rows = result["replies"]
    made = [r for r in rows if r["made"]]
    print(f"{result['model']}: {len(rows)} typed replies, {len(made)} drafts made "
          f"({len(rows) - len(made)} refused), {sum(r['seconds'] for r in rows) / max(1, len(rows)):.1f} s/reply")
    print(f"  to the mail asked about    | {sum(r['the_mail'] for r in rows)} | - |")
    print(f"  threaded (In-Reply-To, Re:) | {sum(r['threaded'] for r in rows)} | 0 (a new mail) |")
    print("  of the drafts made         | assist | anchor (the request alone, no mail) |")
    print(f"  on topic (a key fact)      | {share(made, 'on_topic'):.0%} | {share(made, 'anchor_on_topic'):.0%} |")
    print(f"  key-fact recall            | {ratio(made, 'recall'):.2f} | {ratio(made, 'anchor_recall'):.2f} |")
    print(f"  says what was asked        | {share(made, 'said'):.0%} | {share(made, 'anchor_said'):.0%} |")
    print(f"  flagged by the check       | {share(made, 'flagged'):.0%} | {share(made, 'anchor_flagged'):.0%} |")
    print(f"  blanks left to fill        | {share(made, 'blanks'):.0%} | {share(made, 'anchor_blanks'):.0%} |")
    print(f"  words per draft            | {sum(r['words'] for r in made) / max(1, len(made)):.0f} | "
          f"{sum(r['anchor_words'] for r in made) / max(1, len(made)):.0f} |")


def report(result: dict[str, Any]) -> None:
    if result["replies"]:
        report_replies(result)
    if result["many"]:
        report_many(result)
    rows = result["per"]
    if not rows:
        return
    answered = [r for r in rows if r["routed"] and r["found"]]
    print(f"{result['model']}: {len(rows)} questions, {share(rows, 'routed'):.0%} routed to search_mail, "
          f"{share(rows, 'found'):.0%} found the mail asked about among the newest, "
          f"{sum(r['seconds'] for r in rows) / max(1, len(rows)):.1f} s/answer")
    print(f"  of the {len(answered)} found, | model | anchor (no model: who, subject, first sentence) |")
    print(f"  sender named               | {share(answered, 'sender'):.0%} | {share(answered, 'anchor_sender'):.0%} |")
    for label, key in (("key-fact recall           ", "recall"), ("of the facts it was given ", "recall_given")):
        model, anchored = ratio(answered, key), ratio(answered, f"anchor_{key}")
        print(f"  {label} | {model:.2f} | {anchored:.2f} | ratio {model / anchored if anchored else 0:.2f}")
    print(f"  flagged by the check       | {share(answered, 'flagged'):.0%} | - |")
    print(f"  says \"the user\"            | {share(answered, 'the_user'):.0%} | - |")
    print(f"  has them write it          | {share(answered, 'they_wrote'):.0%} | - |")
    words = sum(r["words"] for r in answered) / max(1, len(answered))
    print(f"  words per answer           | {words:.0f} | "
          f"{sum(len(r['anchor'].split()) for r in answered) / max(1, len(answered)):.0f} |")


def main() -> None:
    from assist.ai.pull import DEFAULT

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT.name, help="a catalog model's name (default: the default)")
    parser.add_argument("--part", choices=("one", "many", "both", "replies"), default="both",
                        help="questions of one mail, of many, or both (default); or typed replies to each mail")
    parser.add_argument("--json", type=Path, help="also write every question, answer and figure to this file")
    args = parser.parse_args()
    result = run(args.model, args.part)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
