"""How `assist ask` reads a question about the person's mail (run by `scripts/bench mail_questions`): the
search it makes of "any new emails from john smith about the car accident" -- who sent the mail, the words
it has, unread or not, when it came -- against what the person meant, written down by the developers
(bench/data/mail-questions: the 72 `email_query` requests of SLURP's devel split, as people said them to a
voice assistant, and 30 typed questions written for this benchmark before its rules; README.md there).

Each request goes through asking.mail_window and mail_search.query_of, as `assist ask` reads a request routed
to search_mail. The search's words are all required (IMAP SEARCH ANDs them): one word the person did not
mean ("hey check emails": TEXT "hey") finds nothing, so a question is right only when every part is.

The anchor, measured in the same run: a plain keyword search, the request's words but the English stop
words of scikit-learn (the Glasgow list) and the word "email" and its kin, the sender the word after
"from", unread when it says "unread" or "new", any time.

    scripts/bench mail_questions          # well under a second
    scripts/bench mail_questions --show   # and each question read wrong, with what was read
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data" / "mail-questions"
NOW = datetime(2026, 12, 9, 18, 30, tzinfo=UTC)  # a Wednesday evening
MAIL_WORDS = {"email", "emails", "mail", "mails", "message", "messages", "inbox", "e-mail"}


def read(text: str) -> dict[str, Any]:
    """What `assist ask` searches for, of a request routed to search_mail."""
    from assist.asking import mail_window
    from assist.mail_search import query_of

    when, since, before, rest = mail_window(text, NOW)
    query = query_of(rest, since, before, when)
    return {"sender": query.sender, "words": query.words, "unseen": query.unseen, "when": query.when}


def keywords(text: str) -> dict[str, Any]:
    """The anchor: a plain keyword search."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    sender = re.search(r"(?i)\bfrom\s+([\w.@+-]+)", text)
    words = [w for w in re.findall(r"[\w@.+-]+", text.lower())
             if w not in ENGLISH_STOP_WORDS and w not in MAIL_WORDS and not (sender and w == sender.group(1).lower())]
    return {"sender": sender.group(1) if sender else None, "words": words,
            "unseen": re.search(r"(?i)\b(unread|new)\b", text) is not None, "when": ""}


def parts_right(label: dict[str, Any], got: dict[str, Any]) -> dict[str, bool]:
    return {
        "sender": (label["sender"] or "").lower() == (got["sender"] or "").lower(),
        "words": sorted(w.lower() for w in label["words"]) == sorted(w.lower() for w in got["words"]),
        "unseen": label["unseen"] == got["unseen"],
        "when": label["when"].lower() == got["when"].lower(),
    }


def measure(rows: list[dict[str, Any]], reader: Any) -> tuple[dict[str, int], list[tuple[str, dict[str, Any]]]]:
    counts = {"sender": 0, "words": 0, "unseen": 0, "when": 0, "all": 0}
    wrong = []
    for row in rows:
        got = reader(row["text"])
        right = parts_right(row, got)
        for part, ok in right.items():
            counts[part] += ok
        counts["all"] += all(right.values())
        if not all(right.values()):
            wrong.append((row["text"], got))
    return counts, wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", action="store_true", help="print each question read wrong")
    args = parser.parse_args()
    try:
        import sklearn  # noqa: F401  (the anchor's stop words)
    except ImportError:
        print("mail_questions: the anchor needs scikit-learn (pip install -e '.[bench]')", file=sys.stderr)
        return 1
    for name, title in (("slurp-devel.jsonl", "SLURP devel, email_query (spoken)"),
                        ("written.jsonl", "written for this benchmark (typed)")):
        rows = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]
        asked = [row for row in rows if "skip" not in row]
        ours, wrong = measure(asked, read)
        anchor, _ = measure(asked, keywords)
        print(f"\n{title}: {len(asked)} questions ({len(rows) - len(asked)} not about mail left out)")
        print(f"  {'read right':<22}{'assist':>10}{'anchor':>10}{'ratio':>8}")
        for part, said in (("all", "every part"), ("sender", "sender"), ("words", "words"), ("unseen", "unread or not"),
                           ("when", "when it came")):
            ratio = f"{ours[part] / anchor[part]:.2f}" if anchor[part] else "-"
            print(f"  {said:<22}{ours[part]:>6}/{len(asked):<3}{anchor[part]:>6}/{len(asked):<3}{ratio:>8}")
        if args.show:
            for text, got in wrong:
                print(f"    {text!r}: {json.dumps(got)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
