"""Whether what a model wrote is in what it was given: the names, numbers and dates of a summary that the
prompt never states are what a model invented (a mail with no text "summarised" as "Ana wants to discuss
project updates with Bob and Charlie on 2023-10-15").

A template names the fields of its reply to check (`grounded = ["summary"]`); `assist run` keeps what they
state that neither the prompt nor the task's data does in `result.ungrounded` (the default triage note
says so). Asking the model again, told which words, was tried: the default 1.5B model wrote the same
words again for every mail it was asked about (bench/README.md, quality). `scripts/bench quality`
measures the same thing (grounding).
"""

from __future__ import annotations

import re
from typing import Any

# words that open or glue sentences, or name what every summary names: not facts a model could invent
COMMON = {"the", "a", "an", "i", "i'm", "he", "she", "they", "we", "it", "this", "that", "these", "his", "her", "their",
          "email", "mail", "message", "sender", "user", "list", "mailing", "post", "re", "fwd", "subject", "from",
          "and", "or", "but", "in", "on", "at", "to", "for", "of", "with", "about", "is", "are", "was", "be",
          "am", "pm",  # of a time: the number is the fact
          "dear", "hello", "hi", "thank", "thanks", "regards", "best", "kind", "sincerely", "cheers"}  # a letter's
NUMBER = re.compile(r"\d[\d,.:/-]*\d|\d")
WORD = re.compile(r"[A-Za-z][\w'&-]*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")  # a line of a letter starts anew ("Hello Sam,\n\nThank you")
# a link: a scheme's or a www. one, up to what ends a link in text or markup
LINK = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>()\[\]{}\"'`\x00-\x1f\x7f]+")


def link_hosts(text: str) -> list[str]:
    """The hosts of the links a text has, each once, in order, lower case."""
    from urllib.parse import urlsplit

    hosts: list[str] = []
    for found in LINK.finditer(text):
        url = found.group(0).rstrip(".,;:!?*_")
        try:
            host = urlsplit(url if "://" in url else "//" + url).hostname
        except ValueError:
            host = None
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def specifics(text: str) -> list[str]:
    """The names, numbers, dates and links (their hosts) a text states: numbers, capitalised words that do
    not open a sentence, and the hosts of its links (a made-up "https://calendar-online.com")."""
    words_only = LINK.sub(" ", text)
    found = NUMBER.findall(words_only)
    for sentence in SENTENCE_END.split(words_only):
        words = WORD.findall(sentence)
        found += [w for w in words[1:] if w[0].isupper() and w.lower() not in COMMON]
    return found + link_hosts(text)


# a month or a weekday is stated by its first three letters too ("Sep" for "September", "Tue" for "Tuesday")
CALENDAR_NAMES = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                  "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


def grounded(token: str, source: str) -> bool:
    """Whether `source` (lower case) states `token` ("Ana's" counts as "ana")."""
    word = re.sub(r"'s$", "", token.lower().strip(".,"))
    if word in source:
        return True
    return word in CALENDAR_NAMES and re.search(rf"\b{word[:3]}\b", source) is not None


def unfounded(text: str, source: str) -> list[str]:
    """The specifics of `text` that `source` does not state, each once, in order."""
    lowered = source.lower()
    return list(dict.fromkeys(t for t in specifics(text) if not grounded(t, lowered)))


def unfounded_fields(parsed: Any, fields: list[str], source: str) -> list[str]:
    """The unfounded specifics of a parsed reply's named string fields."""
    if not isinstance(parsed, dict):
        return []
    found: list[str] = []
    for name in fields:
        value = parsed.get(name)
        if isinstance(value, str):
            found += unfounded(value, source)
    return list(dict.fromkeys(found))


def prompt_source(messages: list[dict[str, Any]]) -> str:
    """What a model was given to write from: its user turns (the system message holds instructions)."""
    return "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")


def strings(value: Any, limit: int = 1 << 20, depth: int | None = None) -> list[str]:
    """The strings in a JSON value (a task's data), depth first, up to `limit` characters in all (an empty
    string counts as one: a million of them is no free work), and with `depth`, no deeper than that."""
    found: list[str] = []
    stack, left = [(value, 0)], limit
    while stack and left > 0:
        item, level = stack.pop()
        if isinstance(item, str):
            found.append(item[:left])
            left -= max(1, len(item))
        elif isinstance(item, (dict, list, tuple)) and (depth is None or level < depth):
            items = item.values() if isinstance(item, dict) else item
            stack.extend((v, level + 1) for v in reversed(list(items)))
    return found


def check(task: dict[str, Any]) -> None:
    """Keep in result.ungrounded the names, numbers and dates that the reply's grounded fields (the
    template's `grounded`) state and neither the prompt nor the task's data does."""
    prompt, result = task.get("prompt"), task.get("result")
    if not isinstance(prompt, dict) or not isinstance(result, dict):
        return
    fields = [f for f in prompt.get("grounded") or [] if isinstance(f, str)]
    messages = [m for m in prompt.get("messages") or [] if isinstance(m, dict)]
    if not fields:
        return
    source = "\n".join([prompt_source(messages), *strings(task.get("data"))])
    missing = unfounded_fields(result.get("parsed"), fields, source)
    if missing:
        result["ungrounded"] = missing


# a blank a model left for the person to fill in: "[Your Name]", "[Date]", "[insert phone number]" (not a list's
# tag such as "[ILUG]", quoted in a reply)
BLANK = re.compile(r"(?i)\[[^\[\]\n]{0,30}\b(?:your|name|date|time|recipient|company|address|phone|number|insert|"
                   r"title|position|signature|contact|e-?mail)\b[^\[\]\n]{0,30}\]")


def draft_notices(task: dict[str, Any], args: Any) -> list[str]:
    """What the person approving a mail the model wrote (an action's `body`) is told of it: what it states
    that nothing the model was given does (result.ungrounded, by the template's `grounded = ["body"]`), the
    blanks it left, and whether it repeats the mail it answers (data.body_text)."""
    body = args.get("body") if isinstance(args, dict) else None
    if not isinstance(body, str):
        return []
    result = task.get("result")
    result = result if isinstance(result, dict) else {}
    blanks = list(dict.fromkeys(BLANK.findall(body)))
    words = BLANK.sub(" ", body)
    added = [w for w in result.get("ungrounded") or [] if isinstance(w, str) and w in words]
    data = task.get("data")
    answered = data.get("body_text") if isinstance(data, dict) else None
    repeated = repeated_share(body, answered) if isinstance(answered, str) else 0.0
    return ([f"the draft says {', '.join(added)}, which nothing it was given does"] if added else []) + (
        [f"blanks to fill in before it goes: {', '.join(blanks)}"] if blanks else []) + (
        [f"the draft repeats the mail it answers ({repeated:.0%} of its words, in the same order): it is no reply"]
        if repeated >= REPEATED else [])


REPEATED = 0.75  # of a draft's words in runs of three of the mail it answers: the mail again, not a reply


def repeated_share(draft: str, mail: str) -> float:
    """The share of a draft's words that are in runs of three words the mail has too (0 for a draft of under
    eight words): the 1.5B model's "reply" to an urgent mail was that mail again, signed by its sender."""
    words, theirs = re.findall(r"\w+", draft.lower()), re.findall(r"\w+", mail.lower())
    if len(words) < 8:
        return 0.0
    runs = set(zip(theirs, theirs[1:], theirs[2:], strict=False))
    covered = set()
    for i in range(len(words) - 2):
        if tuple(words[i:i + 3]) in runs:
            covered |= {i, i + 1, i + 2}
    return len(covered) / len(words)
