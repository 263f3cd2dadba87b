"""`assist ask`: a typed request, classified among the request routes, given the facts its route needs
(the calendar window it asks about, the event it describes, the mails it searches for), answered by the
route's template with the answer streamed as it is written, and its actions planned and held or run by
the act stage like everything else (from the queue `ask`, so a held one waits for approval there).

The facts come from the data, not from the model: the events listed are those of the window read from
the calendar snapshot (agenda.py); an event to add is parsed from the words (a day, a time, a length);
a mail search is an IMAP SEARCH of the configured account. The model writes prose around them. Those
facts are other people's words too (an invitation's title, a mail's subject): when they write to the
assistant (ai/written_to_the_assistant.py), the model is told and the person reads it below the answer.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from . import agenda
from .ai.written_to_the_assistant import written_to_the_assistant

if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import Config
    from .mail_search import MailFound, MailQuery

ASK_QUEUE = "ask"
# how much of a request is read for days, names and addresses (the model is given it whole): a reader's
# work can grow as the square of what it reads, and a webhook's request can be a mebibyte of it
READ_CHARS = 1000
# what prepare() puts in a request's data: never taken from the task as it arrives
FACTS = ("events", "elsewhere", "not_named", "read", "named", "window", "event", "found", "found_total",
         "found_says", "unread", "not_searched", "to", "answer", "prepared", "written_to_the_assistant", "now",
         "forward", "imap", "reply")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
SHORTENED = ("sept", "tues", "thurs", "thur")


def _words_of(names: tuple[str, ...]) -> str:
    """A pattern of the names and their short forms, longest first ("december|dec")."""
    forms = set(names) | {name[:3] for name in names} | {
        short for short in SHORTENED if any(name.startswith(short) for name in names)}
    return "|".join(sorted(forms, key=len, reverse=True))


MONTH_WORDS, DAY_WORDS = _words_of(MONTHS), _words_of(DAYS)  # "december|dec", "thursday|thurs|thu"


def _named(word: str, names: tuple[str, ...]) -> int | None:
    """The number (from 1) of the month or weekday `word` is, whole or as it is shortened ("Dec", "Sept",
    "Thurs"; "Marc" is none), else None."""
    word = word.lower().rstrip(".")
    return next((n for n, name in enumerate(names, 1)
                 if word in (name, name[:3]) or (word in SHORTENED and name.startswith(word))), None)


TIME = re.compile(r"\b(?:at\s+)?(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?=\W|$)", re.IGNORECASE)
LENGTH = re.compile(r"\bfor\s+(an?|\d+(?:\.\d+)?)\s*(hour|hr|minute|min)s?\b", re.IGNORECASE)
COMMAND = re.compile(r"^\s*(?:please\s+)?(?:add|schedule|put|create|book|set\s+up|make|plan|arrange|new|"
                     r"remember(?:\s+that)?|remind\s+me(?:\s+(?:to|that|of|about))?)\s+"
                     r"(?:(?:an?\s+)?(?:event|meeting|appointment|entry)(?:\s+(?:for|called|named))?\s+)?",
                     re.IGNORECASE)
CALENDAR_WORDS = re.compile(r"\s*\b(?:to|in|on|into)\s+(?:my|the)\s+(?:calendar|agenda|schedule|diary)\b",
                            re.IGNORECASE)


YEAR = r"(?:,?\s+(\d{4})\b)?"  # after a date: "december 1st, 2025"


def _day(text: str, now: datetime) -> tuple[datetime | None, str]:
    """The day a text names (today, tomorrow, a weekday, a date), and the text without those words."""
    text = _spoken_dates(text)
    lowered = text.lower()
    found = re.search(r"\b(?:on\s+)?(?:the\s+)?day after tomorrow\b", lowered)
    if found:
        return now + timedelta(days=2), text[:found.start()] + text[found.end():]
    for word, days in (("tomorrow", 1), ("today", 0), ("tonight", 0), ("yesterday", -1)):
        found = re.search(rf"\b(?:on\s+)?{word}\b", lowered)
        if found:
            return now + timedelta(days=days), text[:found.start()] + text[found.end():]
    found = re.search(r"\b(?:on\s+)?(next\s+|this\s+|last\s+)?(" + "|".join(DAYS) + r")\b", lowered)
    if found:  # the coming one (today's weekday: today, or in a week when "next"); "last": the one before
        which = (found.group(1) or "").strip()
        ahead = (DAYS.index(found.group(2)) - now.weekday()) % 7
        if which == "last":
            ahead = ahead - 7 if ahead else -7
        elif ahead == 0 and which == "next":
            ahead = 7
        return now + timedelta(days=ahead), text[:found.start()] + text[found.end():]
    found = re.search(rf"\b(?:on\s+)?(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({MONTH_WORDS})\b{YEAR}",
                      lowered) \
        or re.search(rf"\b(?:on\s+)?({MONTH_WORDS})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b{YEAR}", lowered)
    if found:
        first, second = found.group(1), found.group(2)
        day_text, month_text = (first, second) if first.isdigit() else (second, first)
        number = _named(month_text, MONTHS) or 0  # one of MONTH_WORDS: never 0
        year = int(found.group(3)) if found.group(3) else \
            now.year + (1 if (number, int(day_text)) < (now.month, now.day) else 0)
        if not 1 < year < 9999:  # as a moment asked at is (asked_when): a day either side is a day
            return None, text
        try:
            return now.replace(year=year, month=number, day=int(day_text)), text[:found.start()] + text[found.end():]
        except ValueError:
            return None, text
    found = re.search(r"\b(?:on\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b", lowered)
    if found:  # "on the 8th": the coming day of that number, this month or a later one
        day = _day_of_month(int(found.group(1)), now)
        return (day, text[:found.start()] + text[found.end():]) if day else (None, text)
    return None, text


# a day of the month said in words, as speech is written down: "march seventh", "the twenty first of june"
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
            "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
            "twentieth")
CARDINALS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
             "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
SPOKEN_DAYS = {word: n for words in (ORDINALS, CARDINALS) for n, word in enumerate(words, 1)}
SPOKEN_DAYS |= {f"twenty {word}": 20 + n for word, n in list(SPOKEN_DAYS.items()) if n < 10}
SPOKEN_DAYS |= {"thirtieth": 30, "thirty": 30, "thirty first": 31, "thirty one": 31}
SPOKEN_DAY = "|".join(sorted(SPOKEN_DAYS, key=len, reverse=True)).replace(" ", r"[\s-]+")
SPOKEN_DATE = re.compile(rf"(?i)\b(?:({MONTH_WORDS})\s+(?:the\s+)?({SPOKEN_DAY})|(?:the\s+)?({SPOKEN_DAY})\s+of\s+"
                         rf"({MONTH_WORDS}))\b")


# a year said in words after a date, as speech is written down: "june 14 two thousand and seventeen",
# "march 22 twenty seventeen" (after SPOKEN_DATE has written the day in figures)
YEAR_UNITS = {word: n for n, word in enumerate(CARDINALS[:9], 1)}
YEAR_NUMBERS = {**{word: n for n, word in enumerate(CARDINALS, 1)},
                **{f"{tens} {unit}": base + n for tens, base in (("twenty", 20), ("thirty", 30))
                   for unit, n in YEAR_UNITS.items()}, "thirty": 30}
YEAR_WORDS = "|".join(sorted(YEAR_NUMBERS, key=len, reverse=True)).replace(" ", r"[\s-]+")
DATED_YEAR = re.compile(rf"(?i)\b((?:{MONTH_WORDS})\s+\d{{1,2}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?"
                        rf"(?:{MONTH_WORDS})),?\s+(?:two\s+thousand(?:\s+and)?(?:[\s-]+({YEAR_WORDS}))?|twenty[\s-]+({YEAR_WORDS}))\b")
HOUR_WORDS = "|".join(CARDINALS[:12])
# a count in words: "the last two hours", "the next fourteen days", "a couple of days"
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20,
                "thirty": 30, "few": 3, "couple": 2, "couple of": 2, "a couple of": 2}
NUMBER = r"\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)).replace(" ", r"\s+")
# an hour said in words: "at nine pm", "between two and four pm", "between eight ten"
SPOKEN_HOUR = re.compile(rf"(?i)\b({HOUR_WORDS})(?=\s*(?:am|pm|a\.m\.|p\.m\.|o'?clock)\b)")
SPOKEN_RANGE = re.compile(rf"(?i)\b(between|from)\s+({HOUR_WORDS})\s+(and\s+|to\s+|until\s+|till\s+)?({HOUR_WORDS})\b")


def _spoken_dates(text: str) -> str:
    """The text with a day of the month said in words beside its month in figures ("march seventh": "march 7"),
    and an hour said in words ("nine pm": "9 pm")."""
    def figures(found: re.Match[str]) -> str:
        month, said = (found.group(1), found.group(2)) if found.group(1) else (found.group(4), found.group(3))
        number = SPOKEN_DAYS[re.sub(r"[\s-]+", " ", said.lower())]
        return f"{month} {number}"

    def hour(word: str) -> str:
        return str(SPOKEN_DAYS[word.lower()])

    def year(found: re.Match[str]) -> str:
        said = re.sub(r"[\s-]+", " ", (found.group(2) or found.group(3) or "").lower())
        if found.group(3) is not None and YEAR_NUMBERS[said] < 10:  # "twenty five": no year ("twenty oh five" is)
            return found.group(0)
        return f"{found.group(1)} {2000 + YEAR_NUMBERS.get(said, 0)}"

    text = DATED_YEAR.sub(year, SPOKEN_DATE.sub(figures, text))
    text = SPOKEN_RANGE.sub(lambda f: f"{f.group(1)} {hour(f.group(2))} {f.group(3) or ''}{hour(f.group(4))}", text)
    return SPOKEN_HOUR.sub(lambda f: hour(f.group(1)), text)


def _day_of_month(number: int, now: datetime) -> datetime | None:
    """The first day numbered `number` from today on ("the 8th" on 2 December: 8 December; on 9
    December: 8 January); None for a number no month has."""
    if not 1 <= number <= 31:
        return None
    year, month = now.year, now.month
    for _ in range(12):
        with contextlib.suppress(ValueError):
            day = now.replace(year=year, month=month, day=number)
            if day.date() >= now.date():
                return day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _time(text: str) -> tuple[time | None, str]:
    lowered = text.lower()
    for word, hour in (("noon", 12), ("midday", 12), ("midnight", 0)):
        found = re.search(rf"\b(?:at\s+)?{word}\b", lowered)
        if found:
            return time(hour), text[:found.start()] + text[found.end():]
    for found in TIME.finditer(text):
        clock = _clock(found)
        if clock is not None:
            return clock, text[:found.start()] + text[found.end():]
    return None, text


def _clock(found: re.Match[str]) -> time | None:
    """The time a TIME match says; None for a number that is no time ("2 hours", "lunch for 4")."""
    hour, minute, half = int(found.group(1)), int(found.group(2) or 0), (found.group(3) or "").lower()
    said_at = found.group(0).lower().startswith("at")
    if not (half or said_at or found.group(2)) or hour > 23 or minute > 59:
        return None
    if half.startswith("p") and hour < 12:
        hour += 12
    elif half.startswith("a") and hour == 12:
        hour = 0
    return time(hour, minute)


def _readings(found: re.Match[str]) -> set[int]:
    """The minutes of the day a time in prose can mean: "4:00" or "at 4" without am/pm is 04:00 or 16:00."""
    clock = _clock(found)
    if clock is None:
        return set()
    minutes = clock.hour * 60 + clock.minute
    return {minutes, minutes + 720} if not found.group(3) and clock.hour < 12 else {minutes}


def unsupported_times(answer: str, facts: list[str]) -> list[str]:
    """The times an answer names that none of the facts (the events, the question) does, as written:
    ["6:00 PM"] for "your call is at 6:00 PM" beside "Fri 4 Dec 16:00-17:00 Call". The facts are printed
    above the model's words; this says when its words disagree with them. Noon and midnight are always
    allowed, and the edges of a part of the day a fact names ("free after 6 pm" of the evening)."""
    known = {0, 12 * 60}
    for fact in facts:
        known |= {hour * 60 for _, first, last in _parts_named(fact) for hour in (first, last % 24)}
        for found in TIME.finditer(fact):
            known |= _readings(found)
    said = []
    for found in TIME.finditer(answer):
        readings = _readings(found)
        if readings and not readings & known:
            said.append(re.sub(r"^at\s+", "", found.group(0).strip(), flags=re.IGNORECASE))
    return said


def unsupported_links(answer: str, given: str) -> list[str]:
    """The hosts of the links an answer has that nothing the model was given (`given`: its prompt, with
    the events, mails, notes and the question) names, each once, as written: a small model asked for
    next week's events answered "find all your events on my website here: https://calendar-online.com/"."""
    from .ai.grounding import link_hosts

    known = given.lower()
    return [host for host in link_hosts(answer)
            if not re.search(rf"(?<![\w.-]){re.escape(host)}(?![\w-]|\.[\w-])", known)]


# a date in prose: "Thu 10 Dec", "Thursday, December 10th", "10th of December", "Dec. 10", "2026-12-10"; not
# a time ("Dec 15:00" is 15:00 of a day said before) nor a word that starts like a month ("10 marketing")
DATE = re.compile(
    rf"(?i:\b(?:(?P<weekday>{DAY_WORDS})\.?,?\s+(?:the\s+)?)?)"
    rf"(?:(?<![\d:.])(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<month>(?i:{MONTH_WORDS}))\b\.?"
    rf"|\b(?P<month_first>(?=[A-Z])(?i:{MONTH_WORDS}))\b\.?\s+(?P<day_after>\d{{1,2}})(?:st|nd|rd|th)?\b(?![:.]\d))"
    r"|\b(?P<year>\d{4})-(?P<month_number>\d{2})-(?P<day_number>\d{2})\b")
# a sentence that says a day is free names no event's day
SAYS_FREE = re.compile(r"(?i)\b(?:free|nothing|clear|empty|no\s+(?:\w+\s+)?(?:events?|meetings?|plans?|"
                       r"appointments?)|not\s+busy)\b")


def _dates(text: str) -> list[tuple[str, int, int, int | None]]:
    """The dates a text states: (as written, month, day, the weekday it gives them or None)."""
    out = []
    for found in DATE.finditer(text):
        if found.group("year"):
            month, day = int(found.group("month_number")), int(found.group("day_number"))
            weekday = None
        else:
            month = _named(found.group("month") or found.group("month_first"), MONTHS) or 0
            day = int(found.group("day") or found.group("day_after"))
            weekday = _named(found.group("weekday"), DAYS) if found.group("weekday") else None
        if 1 <= month <= 12 and 1 <= day <= 31:  # as written: from its weekday, else from its first figure or word
            first = next(name for name in ("weekday", "day", "month_first", "year") if found.group(name))
            out.append((text[found.start(first):found.end()].strip(" ,."), month, day, weekday))
    return out


def unsupported_dates(answer: str, facts: list[str], asked: datetime) -> list[str]:
    """The days an answer names, as written, that none of the facts (the events, the question, the window)
    does, nor the day of `asked` or the one before or after it, unless their sentence says the day is free;
    and a day given a weekday that is not its own ("Wednesday 10 December" of a Thursday). smollm2, asked
    to summarise a week of four events, put them on "Thu 12 Nov" and "Fri 18 Jan"."""
    known = {(day.month, day.day) for day in (asked + timedelta(days=n) for n in (-1, 0, 1))}
    for fact in facts:
        stated = _dates(fact)
        known |= {(month, day) for _, month, day, _ in stated}
        if "(all day)" in fact and len(stated) == 2:  # "Mon 7 Dec-Fri 11 Dec (all day) Holiday": every day of it
            first, last = (_date_or_far(asked.year, month, day) for _, month, day, _ in stated)
            last = last if last >= first else _date_or_far(asked.year + 1, stated[1][1], stated[1][2])
            known |= {((first + timedelta(days=n)).month, (first + timedelta(days=n)).day)
                      for n in range(min((last - first).days, 366))}
    said = []
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", answer):
        free = SAYS_FREE.search(sentence) is not None
        for written, month, day, weekday in _dates(sentence):
            year = min((asked.year + n for n in (-1, 0, 1)),  # the year that puts it nearest the question
                       key=lambda y: abs((_date_or_far(y, month, day) - asked.date()).days))
            wrong_weekday = weekday is not None and _date_or_far(year, month, day).isoweekday() != weekday
            if wrong_weekday or ((month, day) not in known and not free):
                said.append(written)
    return list(dict.fromkeys(said))


def _date_or_far(year: int, month: int, day: int) -> date:
    """The date, or one far from any (31 February is no day of any year)."""
    try:
        return date(year, month, day)
    except ValueError:
        return date(1, 1, 1)


NAME_WORD = re.compile(r"[^\W\d_][\w'&-]*")
# of a time (unsupported_times is about those), as weekdays and months are
TIME_WORDS = {"am", "pm", "today", "tonight", "tomorrow", "yesterday", "noon", "midnight"}


def _a_day_word(word: str) -> bool:
    """Whether a word names a month or a weekday, whole or shortened ("Dec", "Thu"): unsupported_dates checks
    those."""
    word = word.lower().removesuffix("'s")
    return word in TIME_WORDS or bool(_named(word, MONTHS) or _named(word, DAYS))


# a year or an amount of money: facts a model invents as it invents names ("Chuck Murcko, in 2018" of a
# mail of 2002); counts and times are not (unsupported_times checks times)
YEAR_OR_AMOUNT = re.compile(r"(?i)[$€£]\s?\d[\d,]*(?:\.\d+)?|\b(?:19|20)\d{2}\b(?![:.]\d)"
                            r"|\b\d[\d,]*(?:\.\d+)?\s?(?:usd|eur|gbp|dollars|euros|pounds)\b")


def unsupported_names(answer: str, given: str) -> list[str]:
    """The names an answer states that nothing it was given (`given`) does, each once, as written: runs of
    capitalised words that do not open a sentence ("Super Bowl LII"), weekdays, months, AM and PM aside. A
    small model asked to find mails about entrepreneurs listed the search's six and answered "Aaron
    Levinsky, a former NFL quarterback who became the first African-American to win three Super Bowl LII
    championships"."""
    from .ai.grounding import COMMON, LINK, SENTENCE_END, grounded

    known = given.lower()
    said: list[str] = []
    for sentence in SENTENCE_END.split(LINK.sub(" ", answer)):
        runs: list[list[str]] = []
        joined_to = -1  # where the last name word ended: the next one joins its run if only spaces are between
        for k, found in enumerate(NAME_WORD.finditer(sentence)):
            word = found.group(0)
            if k == 0 or not word[0].isupper() or word.lower() in COMMON or _a_day_word(word):
                joined_to = -1
                continue
            if joined_to >= 0 and not sentence[joined_to:found.start()].strip():
                runs[-1].append(word)
            else:
                runs.append([word])
            joined_to = found.end()
        said += [" ".join(run) for run in runs if not all(grounded(w, known) for w in run)]
    numbers = {_number(n) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", known)}  # read once: "12,500" is 12500
    said += [figure.strip() for figure in YEAR_OR_AMOUNT.findall(LINK.sub(" ", answer))
             if _number(re.sub(r"[^\d.,]", "", figure)) not in numbers]
    return list(dict.fromkeys(said))


def _number(written: str) -> str:
    """A figure as digits: "12,500" and "12500.00" are "12500"."""
    return re.sub(r"\.0*$", "", written.replace(",", "").strip("."))


# an answer that says there is none of what it was given: "No mail from Harley found." under three mails
# from harley (the 1.5B model). "no meeting on Friday" (one day of a week) and "no reply is needed" are not
SAYS_NONE = re.compile(
    r"(?i)\b(?:no|not any|zero|(?:do|does|did)\s+not\s+have(?:\s+any)?|(?:don't|doesn't|didn't)\s+have(?:\s+any)?|"
    r"(?:are|were)\s+not\s+any|(?:aren't|weren't)\s+any)"
    r"\s+(?:[\w-]+\s+){0,2}?(?:e-?mails?|mails?|messages?|events?|meetings?|appointments?|"
    r"notes?|results?)\b(?!\s+(?:on|after|before|at|until)\b)"
    r"|\b(?:could not|couldn't|did not|didn't|can't|cannot|was unable to)\s+find\b"
    r"|\bnothing\s+(?:was\s+)?found\b|\bnone\s+(?:was|were)\s+found\b")


# an answer about mail found that has the person write one ("You wrote to Adam, who replied ...")
YOU_WROTE = re.compile(r"(?i)\byou\s+(?:wrote|sent|emailed|mailed|replied)\b")


def says_none(answer: str) -> bool:
    """Whether an answer says there is none (of the mails, events or notes asked about)."""
    return SAYS_NONE.search(answer) is not None


def facts_given(task: dict[str, Any]) -> int:
    """How many facts an answer was given: the events, the mails found, the notes (0 for a chat answer)."""
    data, prompt = task.get("data") or {}, task.get("prompt") or {}
    for each in (data.get("events"), data.get("found"), prompt.get("context")):
        if isinstance(each, list) and each:
            return len(each)
    return 0


def check_answer(task: dict[str, Any]) -> None:
    """Keep in an answered request's result what its words say that nothing it was given does: the times
    none of its events (and the question, the window) has, `result.unsupported_times`, and the days,
    `result.unsupported_dates` (a request with events), the links none of its prompt has,
    `result.unsupported_links`, and for an answer from facts (events, mails found, notes) the names none of
    them has, `result.unsupported_names`, and whether it says there is none of them, `result.says_none` (a
    chat answer, from the model's own knowledge, is not checked so); of mails found, whether it says the
    person wrote one, `result.says_you_wrote`."""
    from .ai.grounding import strings

    data, result = task.get("data"), task.get("result")
    if not isinstance(data, dict) or not isinstance(result, dict) or not isinstance(result.get("text"), str):
        return
    if isinstance(data.get("events"), list):
        facts = [str(e) for e in [*data["events"], *(data.get("elsewhere") or [])]] + [
            str(data.get("text") or ""), str(data.get("window") or "")]
        result["unsupported_times"] = unsupported_times(result["text"], facts)
        result["unsupported_dates"] = unsupported_dates(result["text"], facts, asked_when(data, agenda.machine_zone()))
    prompt = task.get("prompt") or {}
    messages = prompt.get("messages")
    given = " ".join(str(m.get("content", "")) for m in messages if isinstance(m, dict)) \
        if isinstance(messages, list) else ""
    result["unsupported_links"] = unsupported_links(result["text"], given)
    if isinstance(data.get("events"), list) or isinstance(data.get("found"), list) or prompt.get("context"):
        result["unsupported_names"] = unsupported_names(result["text"], " ".join([given, *strings(data)]))
    if facts_given(task) and says_none(result["text"]):
        result["says_none"] = True
    result.pop("says_you_wrote", None)
    if data.get("found") and YOU_WROTE.search(result["text"]):
        result["says_you_wrote"] = True


def asked_when(data: dict[str, Any], tz: tzinfo) -> datetime:
    """When a request was asked (data.asked_at, in tz when it names no offset), else now; now too for a
    moment at the ends of the calendar, where the day before or the year after is none (asked_at is the
    task document's own: "9999-12-31" from a pipe failed inside)."""
    with contextlib.suppress(TypeError, ValueError, OverflowError):
        asked = agenda.moment(str(data["asked_at"]), tz) if data.get("asked_at") else None
        if asked is not None and 1 < asked.year < 9999:
            return asked.astimezone(tz)
    return datetime.now(tz)


def answer_notices(task: dict[str, Any]) -> list[str]:
    """What to say under an answer that check_answer found wanting: the facts printed above it are right."""
    result = task.get("result") or {}
    said = []
    if result.get("unsupported_times"):  # the model restated a time wrongly
        said.append(f"(check: the answer says {', '.join(result['unsupported_times'])}, which none of the events "
                    "above has; the events are right)")
    if result.get("unsupported_dates"):  # the model put an event on another day
        said.append(f"(check: the answer says {', '.join(result['unsupported_dates'])}, which is the day of none of "
                    "the events above; the events are right)")
    if result.get("unsupported_links"):  # a link made up, or from nowhere the person knows
        said.append(f"(check: the answer links to {', '.join(result['unsupported_links'])}, which nothing it was "
                    "given has: do not trust those links)")
    if result.get("says_none"):  # the model denied what is printed above its words
        n = facts_given(task)
        said.append(f"(check: the answer says there is none, and {n} {'was' if n == 1 else 'were'} found above: the "
                    "facts above are right)")
    if result.get("says_you_wrote"):  # the person's own mail is not searched: each found was sent to them
        said.append("(check: the answer says you wrote or sent one of these mails; each was sent to you by the "
                    "sender above)")
    if result.get("unsupported_names"):  # names the model added to the facts it was given
        said.append(f"(check: the answer names {', '.join(result['unsupported_names'])}, which nothing it was "
                    "given has: the facts above are right)")
    if result.get("finish_reason") == "length":  # it ended mid-sentence ("... Russell Turpin")
        said.append("(the answer was cut where it reached its length, the route's max_tokens" +
                    (": the facts above are whole)" if facts_given(task) else ")"))
    read = (task.get("data") or {}).get("read")
    if read and result:  # asked of a time the calendars were read for in part only
        said.append(f"(your calendar was read {read}: of the time asked about outside that, nothing is known)")
    return said


def event_from(text: str, now: datetime) -> dict[str, Any] | None:
    """{"summary", "start", "end"} of an event a request describes ("add lunch with Ana on Friday at
    1pm", "dentist tomorrow at 9:30 for 45 minutes"), in now's zone; of a day and no time ("add dentist on
    friday"), the whole day: dates, its end the day after; None without a day or a time."""
    rest = COMMAND.sub("", text)
    rest = CALENDAR_WORDS.sub("", rest)
    day, rest = _day(rest, now)
    at, rest = _time(rest)
    if at is None and day is None:
        return None
    minutes = 60
    length = LENGTH.search(rest)
    if length:
        amount = 1.0 if length.group(1).lower() in ("a", "an") else float(length.group(1))
        minutes = int(amount * (60 if length.group(2).lower().startswith("h") else 1))
        rest = rest[:length.start()] + rest[length.end():]
    summary = re.sub(r"\s+", " ", re.sub(r"\b(?:on|at|for)\s*$", "", rest.strip(" ,.;:-"))).strip(" ,.;:-")
    summary = re.sub(r"^(?:a|an|the)\s+", "", summary, flags=re.IGNORECASE)
    if not summary:
        return None
    summary = summary[0].upper() + summary[1:]
    if at is None:  # a day's event, as a calendar app makes it
        first = (day or now).date()
        return {"summary": summary, "start": first.isoformat(), "end": (first + timedelta(days=1)).isoformat()}
    start = datetime.combine((day or now).date(), at, now.tzinfo)  # a time alone: today
    return {"summary": summary, "start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}


PARTS_OF_DAY = (("morning", 0, 12), ("afternoon", 12, 18), ("evening", 18, 24), ("tonight", 18, 24),
                ("night", 18, 24))


def _parts_named(text: str) -> list[tuple[str, int, int]]:
    """The parts of the day (word, first hour, last hour) a text names, in PARTS_OF_DAY's order."""
    lowered = text.lower()
    return [part for part in PARTS_OF_DAY if re.search(rf"\b{part[0]}\b", lowered)]


def window_for(text: str, now: datetime) -> tuple[str, datetime, datetime]:
    """The calendar window a question asks about: (how to say it, start, end); default this week. A day
    narrows to a part of it ("friday afternoon": 12:00-18:00) or an hour ("thursday at 1pm")."""
    label, start, end = _days_asked(text, now)
    if end - start != timedelta(days=1):
        return label, start, end
    hours = _hours_between(_day(text, now)[1])
    if hours:
        opens, closes = hours
        return f"{label}, {opens:%H:%M}-{closes:%H:%M}", start.replace(hour=opens.hour, minute=opens.minute), \
            start.replace(hour=closes.hour, minute=closes.minute)
    named = _parts_named(text)
    if named:
        word, first, last = named[0]
        said = "tonight" if word == "tonight" else f"{label}, in the {word}"
        return said, start + timedelta(hours=first), start + timedelta(hours=last)
    at, _ = _time(_day(text, now)[1])
    if at is not None:
        begins = start.replace(hour=at.hour, minute=at.minute)
        return f"{label} at {at.strftime('%H:%M')}", begins, begins + timedelta(hours=1)
    return label, start, end


# "between 2 and 4pm", "between 8am and 5pm", "between 8 10" (after _spoken_dates: "between eight ten"),
# "from 9am to 5pm", "from 9-5"; not a day of a month ("from 3 to 5 december")
BETWEEN = re.compile(r"(?i)\b(?:between|from)\s+(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?"
                     r"(?:\s+(?:and|to|until|till)\s+|\s*-\s*|\s+)"
                     rf"(\d{{1,2}})(?:[:.](\d{{2}}))?\s*(am|pm)?\b(?!\s*(?:of\s+)?(?:{MONTH_WORDS})\b)")


def _hours_between(text: str) -> tuple[time, time] | None:
    """The hours a BETWEEN names, the first before the second; am or pm said once is said of both, and
    an hour from 1 to 7 said with neither is the afternoon's ("between 2 and 4")."""
    found = BETWEEN.search(text)
    if not found:
        return None
    halves = [(found.group(3) or found.group(6) or "").lower(), (found.group(6) or "").lower()]
    clocks = []
    for hour_text, minute_text, half in ((found.group(1), found.group(2), halves[0]),
                                         (found.group(4), found.group(5), halves[1])):
        hour, minute = int(hour_text), int(minute_text or 0)
        if (half and not 1 <= hour <= 12) or hour > 23 or minute > 59:
            return None
        if half:
            hour = hour % 12 + (12 if half == "pm" else 0)
        elif 1 <= hour <= 7:
            hour += 12
        clocks.append(time(hour, minute))
    return (clocks[0], clocks[1]) if clocks[0] < clocks[1] else None


# "between today and the 21st", "from monday to wednesday", "from december 10 until the twentieth": the days
# from the first to the last, each read as a day is (_day; the last also as an ordinal in words)
DAY_SPAN = re.compile(r"(?i)\b(?:between|from)\s+(?P<first>[\w ,'-]{1,40}?)\s+(?:and|to|until|till|through|thru)\s+"
                      r"(?P<last>[\w ,'-]{1,40})")
ORDINAL_DAY = re.compile(r"(?i)^\W*(?:the\s+)?(" + "|".join(sorted(
    (said for said in SPOKEN_DAYS if said.split()[-1] in (*ORDINALS, "thirtieth")), key=len, reverse=True))
    .replace(" ", r"[\s-]+") + r")\b")


def _span_asked(text: str, now: datetime) -> tuple[str, datetime, datetime] | None:
    """The days from one to another a question asks about (DAY_SPAN), when it names two days that far apart
    (a weekday before the first: the one after it); else None."""
    found = DAY_SPAN.search(text)
    if found is None:
        return None
    first = _day(found.group("first"), now)[0]
    ordinal = ORDINAL_DAY.match(found.group("last"))
    last = _day(found.group("last"), now)[0] or (
        _day_of_month(SPOKEN_DAYS[re.sub(r"[\s-]+", " ", ordinal.group(1).lower())], now) if ordinal else None)
    bare = re.fullmatch(r"(?i)(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?", found.group("first").strip())
    said_month = re.search(rf"(?i)\b(?:{MONTH_WORDS})\b", found.group("last"))
    if first is None and last is not None and bare and said_month and 1 <= int(bare.group(1)) < last.day:
        first = last.replace(day=int(bare.group(1)))  # "from 3 to 5 december": the 3rd of that month
    if first is None or last is None:
        return None
    start = datetime.combine(first.date(), time(), now.tzinfo)
    end = datetime.combine(last.date(), time(), now.tzinfo) + timedelta(days=1)
    if end <= start:  # "from friday to monday": the Monday after
        end += timedelta(days=7)
    if not timedelta(days=1) < end - start <= timedelta(days=366):
        return None
    closing = end - timedelta(days=1)
    said = "%A %-d %B" + ("" if start.year == closing.year == now.year else " %Y")
    return f"from {start.strftime(said)} to {closing.strftime(said)}", start, end


def _days_asked(text: str, now: datetime) -> tuple[str, datetime, datetime]:
    lowered = text.lower()
    today = datetime.combine(now.date(), time(), now.tzinfo)
    span = _span_asked(text, now)
    if span is not None:
        return span
    if re.search(r"\btomorrow\b", lowered):
        return "tomorrow", today + timedelta(days=1), today + timedelta(days=2)
    if re.search(r"\byesterday\b", lowered):
        return "yesterday", today - timedelta(days=1), today
    if re.search(r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening)|my\s+day)\b", lowered):
        return "today", today, today + timedelta(days=1)
    week_start, week_end = agenda.week_of(now)
    if re.search(r"\b(?:rest\s+of\s+(?:the|this)\s+week|left\s+(?:this|of\s+the)\s+week)\b", lowered):
        return "the rest of this week", now, week_end
    ahead = AHEAD.search(text)
    if ahead:
        said = ahead.group(1)
        count = 3 if said is None else NUMBER_WORDS.get(re.sub(r"\s+", " ", said.lower())) or int(said)
        days = min(count * (7 if ahead.group(2).lower() == "week" else 1), 365)  # asked in 9998 at the latest
        return f"in the next {days} days", now, now + timedelta(days=days)
    if re.search(r"\bnext week\b", lowered):
        return "next week", week_end, week_end + timedelta(days=7)
    if re.search(r"\blast week\b", lowered):
        return "last week", week_start - timedelta(days=7), week_start
    if re.search(r"\bweekend\b", lowered):
        saturday = week_start + timedelta(days=5)
        return "this weekend", saturday, week_end
    day, _ = _day(text, now)
    if day is not None:
        start = datetime.combine(day.date(), time(), now.tzinfo)
        near = start.year == now.year or 0 <= (start - today).days < 365  # (no sum: 9999 has no year after)
        return start.strftime("on %A %-d %B" + ("" if near else " %Y")), start, start + timedelta(days=1)
    month = A_MONTH_ASKED.search(text)
    if month:
        return _month_asked(month, today)
    # "when is my next meeting", "upcoming events", "when are the meetings" (of no day, not of free time, not
    # past): the first few ahead (prepare lists three)
    asks_when = WHEN_ASKED.search(text) and not PAST_TENSE.search(text) and not FREE_OR_BUSY.search(text)
    if (COMING_UP.search(text) or asks_when) and not re.search(r"\bthis\s+week\b", lowered):
        return "coming up", now, now + timedelta(days=COMING_DAYS)
    if now.weekday() == 6:  # on a Sunday this week is its last day: the week ahead is meant, or both
        return SUNDAYS_WEEK, today, week_end + timedelta(days=7)
    return "this week", week_start, week_end


SUNDAYS_WEEK = "today and next week"  # "this week", or no time said, on a Sunday


# "in the next 3 days", "over the coming two weeks", "the next few days"
AHEAD = re.compile(rf"(?i)\b(?:next|coming)\s+(?:({NUMBER})\s+)?(day|week)s\b")
# "this month", "next month", "in march", "during june": a whole month
A_MONTH_ASKED = re.compile(rf"(?i)\b(?:(this|current|next|last)\s+month|(?:in|during|for|throughout)\s+"
                           rf"({'|'.join(MONTHS)})\b)")
COMING_UP = re.compile(r"(?i)\b(?:next|upcoming|up\s*coming|coming\s+up|pending|ahead)\b")
COMING_DAYS = 30  # how far ahead "coming up" looks (the agenda lists the first three)
FREE_OR_BUSY = re.compile(r"(?i)\b(?:free|busy|available|availability|open)\b")
# "what's next", "when is my next meeting", "what is my next appointment on my calendar": the next one alone
NEXT_ONE = re.compile(r"(?i)^\W*(?:when|what\s+time|what\s+day|which\s+day|what)(?:'s|s|\s+is)?\s+"
                      r"(?:(?:my|the|our)\s+)?next(?:\s+(?:meeting|appointment|event|thing|call|reminder|one))?"
                      r"(?:\s+(?:on|in)\s+my\s+(?:calendar|schedule|agenda|diary))?[\s?.!]*$")


def _month_asked(found: re.Match[str], today: datetime) -> tuple[str, datetime, datetime]:
    """The month an A_MONTH_ASKED match names: (how to say it, its first day, the first of the next); a month
    named is this one or the next to come."""
    first = today.replace(day=1)
    if found.group(2):
        number = MONTHS.index(found.group(2).lower()) + 1
        start = first.replace(year=first.year + (number < first.month), month=number)
    else:
        which = found.group(1).lower()
        step = {"next": 1, "last": -1}.get(which, 0)
        start = first
        if step:
            month = first.month + step
            start = first.replace(year=first.year + (month > 12) - (month < 1), month=(month - 1) % 12 + 1)
    end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return start.strftime("in %B %Y"), start, end


# words of a calendar question that name no event ("when is the team dinner": team, dinner are left)
QUESTION_WORDS = {
    "when", "what", "whats", "which", "where", "who", "how", "time", "times", "date", "day", "does", "do", "did", "is",
    "are", "am", "was", "will", "be", "the", "a", "an", "my", "our", "i", "me", "we", "you", "it", "of", "to", "for",
    "at", "on", "in", "with", "and", "or", "have", "has", "got", "there", "any", "anything", "something", "start",
    "starts", "begin", "begins", "end", "ends", "long", "next", "coming", "up", "upcoming", "soon", "calendar",
    "schedule", "agenda", "diary", "event", "events", "plans", "plan", "busy", "free", "available", "happening",
    "going", "tell", "show", "please", "can", "could", "remind", "again", "this", "that", "week", "month"}
NAMED_DAYS = 90  # how far ahead an event a question names is looked for
PAST_DAYS = 7  # and how far back, when nothing ahead has its name ("what time was the dentist")
PAST_TENSE = re.compile(r"\b(?:was|were|did)\b", re.IGNORECASE)
WHEN_ASKED = re.compile(r"^\s*(?:and\s+|so\s+)?(?:when|what\s+time|what\s+day|what\s+date|which\s+day)\b",
                        re.IGNORECASE)


# words that say when, not what ("is yoga on thursday", "the dentist on the 8th")
WHEN_WORDS = {*DAYS, *MONTHS, "today", "tomorrow", "tonight", "yesterday", "morning", "afternoon", "evening",
              "weekend", "noon", "midnight"}
NOT_NAMES = QUESTION_WORDS | WHEN_WORDS


def _said(text: str) -> list[str]:
    """The words of a text, lower-cased, in its order, each once, without a possessive ("mum's": mum)."""
    return list(dict.fromkeys(w.removesuffix("'s") for w in re.findall(r"[a-z0-9']+", text.lower())))


def _name_words(text: str) -> set[str]:
    return {w for w in _said(text) if len(w) > 2 and not w[0].isdigit() and w not in NOT_NAMES}


# words for a kind of event, not its name ("when is my next meeting": the next events, whatever they are called)
KINDS = {"meeting", "meetings", "appointment", "appointments", "reminder", "reminders", "call", "calls", "scheduled",
         "booked", "planned", "thing", "things", "first", "last", "earliest", "latest", "due"}


def event_words(text: str) -> list[str]:
    """The words of a question that could only be an event's name, in its order: "what time is the piano
    lesson" piano, lesson; "when is my next meeting" none (a kind of event: KINDS)."""
    names = _name_words(text)
    return [w for w in _said(text) if w in names and w not in KINDS]


def _when_named(text: str, named: list[dict[str, Any]], label: str, lines: list[str]) -> str:
    """The answer to when the events a question names are: their lines, and first the words of the question
    no event has when there are some ("when is the team offsite" of "Team dinner": the 1.5B answered "The
    team is offsite on Thursday at 10:30 PM")."""
    names = set().union(*(_name_words(str(e.get("summary", ""))) for e in named))
    missing = [w for w in event_words(text) if w not in names]
    when = f"{label[0].upper()}{label[1:]}"
    if not missing:
        return f"{when}: {'; '.join(lines)}."
    having = " or ".join(f'"{w}"' for w in _said(text) if w in names and w not in NOT_NAMES)
    return f"{_none_named(missing)} {when} with {having}: {'; '.join(lines)}."


def _none_named(words: list[str]) -> str:
    said = " or ".join(filter(None, [", ".join(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"']))
    return f"No event of your calendar from {PAST_DAYS} days ago to {NAMED_DAYS} days ahead has {said} in its name."


def _shared(asked: set[str], event: dict[str, Any]) -> int:
    """How many of a question's name words an event's name has."""
    return len(asked & _name_words(str(event.get("summary", ""))))


def events_named(text: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events (in time order) whose names share the most words with a question, the first three:
    "when is the team dinner" finds "Team dinner" and not "Team standup"; [] when none shares one."""
    asked = _name_words(text)
    shared = [_shared(asked, e) for e in events]
    best = max(shared, default=0)
    return [e for e, n in zip(events, shared, strict=True) if best and n == best][:3]


def named_elsewhere(text: str, listed: list[dict[str, Any]], coming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The coming events a question about a window names better than any event of that window does
    ("what time is yoga on thursday" when Thursday has lunch and yoga is on Wednesday): [] when the
    window has what it names, or it names nothing the calendar has. Told to the model, these keep it
    from giving the named event one of the window's times."""
    asked = _name_words(text)
    if not asked:
        return []
    here = max((_shared(asked, e) for e in listed), default=0)
    found = events_named(text, [e for e in coming if e not in listed])
    return found if found and _shared(asked, found[0]) > here else []


def _events_named_in_calendar(config: Config, text: str, now: datetime) -> tuple[list[dict[str, Any]], str]:
    """The events a question names (events_named), looked for ahead and in the last PAST_DAYS (first
    there when it asks in the past tense: "when was the standup"); and how to say when they are."""
    spans = [(now, now + timedelta(days=NAMED_DAYS), "coming up"),
             (now - timedelta(days=PAST_DAYS), now, f"in the last {PAST_DAYS} days")]
    if PAST_TENSE.search(text):
        spans.reverse()
    for start, end, when in spans:
        events = agenda.between(config, start, end)
        ahead = start >= now
        found = events_named(text, events if ahead else events[::-1])  # the first three ahead, the latest back
        if found:
            return found if ahead else found[::-1], when
    return [], ""


def _events_a_chat_question_names(config: Config, task: dict[str, Any], text: str,
                                  now: datetime) -> tuple[list[dict[str, Any]], str]:
    """The calendar events a request sent to be answered directly (`chat`: small talk, or no route was
    sure) asks the time of ("when is lunch with Ana" beside "Lunch with Ana" on Thursday, "what time is
    yoga"), [] for any other request: those are the agenda's to answer from the calendar, not the model's
    to guess. Wrongly taken, it costs an answer that lists the event; the other way, an answer made up."""
    fallback = config.section("classify").get("request_fallback", "chat")
    if (task.get("intent") or {}).get("route") != fallback or "agenda" not in config.routes \
            or not WHEN_ASKED.search(text):
        return [], ""
    return _events_named_in_calendar(config, text, now)


# "what do I have today", "what have I got on tomorrow", "what am I doing this weekend", "what's on friday
# evening": the whole request the person's plans of a time (the request model sent "what do i have today" to
# chat, 0.97 sure, and the model made a day up)
PLANS_ASKED = re.compile(r"(?i)^\W*(?:(?:hey|hi|ok|okay|so)\W+)?what(?:\s+do\s+i\s+have|\s+have\s+i\s+got|"
                         r"\s+am\s+i\s+doing|\s+is\s+on|'?s\s+on)\b(?P<when>[\w\s,:.']*?)[\s?.!]*$")
# the words of such a time, and of where it is (a number, a clock time, a date's ordinal besides)
PLAN_WORDS = frozenset({"today", "tonight", "tomorrow", "this", "next", "coming", "week", "weekend", "morning",
                        "afternoon", "evening", "night", "noon", "on", "for", "in", "the", "rest", "of", "day",
                        "at", "my", "calendar", "schedule", "agenda", "diary", "up", "going", "planned",
                        "scheduled", "and", "then", "later", "am", "pm", "to", "do", *DAYS, *MONTHS,
                        *(word for said in SPOKEN_DAYS for word in said.split())})  # "november twenty first"
PLAN_TIME = frozenset({"today", "tonight", "tomorrow", "week", "weekend", "morning", "afternoon", "evening",
                       "night", "noon", *DAYS, *MONTHS})


# "am i free on friday afternoon", "am i busy tomorrow", "am i available from 9am to 5pm on friday", "is my
# calendar clear tonight": of a day or part of one, answered from the calendar (SmolLM2, given no events,
# asked for "the full date and time")
FREE_ASKED = re.compile(r"(?i)^\W*(?:(?:hey|hi|ok|okay|so|and)\W+)?(?:am\s+i|will\s+i\s+be|are\s+we|"
                        r"is\s+my\s+(?:calendar|schedule|diary|day))\s+(?:free|busy|available|open|clear|booked|empty)\b")

FREE_WORDS = frozenset({"free", "busy", "available", "open", "clear", "booked", "empty", "from", "until", "till",
                        "between"})  # of such a question, none names an event ("am i free for lunch": lunch does)


def _free_or_not(label: str, lines: list[str]) -> str:
    """Whether the person is free in a window, as its events say: none, or each of them."""
    when = f"{label[0].upper()}{label[1:]}"
    if not lines:
        return f"{when}: nothing is on your calendar, you are free."
    count = f"{len(lines)} event{'s' if len(lines) > 1 else ''}"
    return f"{when} you have {count}: {'; '.join(lines)}; nothing else is on your calendar then."


# "brief me", "give me my morning briefing", "daily briefing please": the day's events and the unread mail
BRIEFING = re.compile(r"(?i)^\W*(?:(?:hey|hi|ok|okay|so|please)\W+)?(?:(?:can|could|would)\s+you\s+)?"
                      r"(?:brief\s+me|(?:(?:give|read|send)\s+me\s+(?:my|the|a|today'?s)|"
                      r"what(?:'?s|\s+is)\s+(?:my|today'?s)|my|today'?s)?\s*(?:morning|daily|day'?s)?\s*briefing)"
                      r"(?:\s+(?:for\s+)?(?:today|this\s+morning|please))?[\s?.!]*$")


def _briefing(config: Config, data: dict[str, Any], now: datetime) -> str:
    """The day's briefing, with no model: today's events, then how many mails are unread and what the newest
    say (mail_search.newest_said), each from where it is kept; what cannot be read is said so."""
    from .errors import AssistError
    from .mail_search import CannotSearch, MailQuery, newest_said, search_mail

    tz = agenda.zone(config)
    today = datetime.combine(now.date(), time(), now.tzinfo)
    if agenda.read_any(config):
        data["events"] = [agenda.describe(e, tz) for e in agenda.between(config, today, today + timedelta(days=1))]
        data["window"] = "today"
        said = [f"Today, {now:%A %-d %B}: " + ("; ".join(data["events"]) if data["events"] else
                                               "nothing on your calendar") + "."]
    else:
        said = ["No calendar has been read yet (`assist ingest ics FILE` or `assist ingest caldav URL`)."]
    if "search_mail" not in config.routes or not config.action_section("imap").get("host"):
        return "\n".join(said)
    try:
        found = search_mail(config, MailQuery(None, [], True))
    except (AssistError, CannotSearch) as exc:
        return "\n".join([*said, f"Your mail could not be read: {exc}"])
    data["found"], data["unread"] = found.lines, True
    read = newest_said(found)
    if not found.total:
        said.append("No unread mail.")
    else:
        said.append(f"{found.total} unread mail{'s' if found.total > 1 else ''}" + (
            f"; what the newest {len(read)} say, in their own words:" if len(read) > 1
            else ", in its own words:" if read else "."))
    return "\n".join([*said, *read, *(f"Not searched: {why}" for why in found.not_searched)])


def _plans_asked(text: str) -> bool:
    """Whether a request asks only what the person has on at a time it names (PLANS_ASKED)."""
    found = PLANS_ASKED.search(text)
    words = re.findall(r"[a-z]+|\d+(?:st|nd|rd|th|am|pm)?(?::\d\d)?", (found.group("when") if found else "").lower())
    return bool(words) and any(w in PLAN_TIME or w[0].isdigit() for w in words) and all(
        w in PLAN_WORDS or w[0].isdigit() for w in words)


# "what did padraig say about solaris", "what has ana written", "what did the clinic send me": what someone said
SAID_BY = re.compile(r"(?i)^\W*what\s+(?:did|does|has|have)\s+(?:(?:the|my|our)\s+)?([^\W\d_][\w.@+-]*)\s+"
                     r"(?:ever\s+|just\s+)?(?:say|said|write|wrote|written|send|sent|e-?mail(?:ed)?|mail(?:ed)?|ask(?:ed)?|tell|told|"
                     r"want(?:ed)?|reply|replied|answer(?:ed)?)\b")


# "anything from sam?", "any news from grandma", "is there anything new from the school": mail from someone
ANYTHING_FROM = re.compile(r"(?i)^\W*(?:(?:is\s+there|do\s+i\s+have|have\s+i\s+got|did\s+i\s+get)\s+)?"
                           r"(?:(?:any(?:thing)?|something)(?:\s+new)?(?:\s+(?:news|word))?|news|word)\s+from\s+"
                           r"(?:(?:the|my|our)\s+)?([^\W\d_][\w.@+-]*)")
# "what came in today", "did anything come in", "what arrived this morning": mail that arrived (not "what came up")
ARRIVED = re.compile(r"(?i)\b(?:what|anything|something|nothing|much|any\s+(?:new\s+)?(?:e-?)?mails?)\s+"
                     r"(?:else\s+|new\s+)?(?:has\s+|have\s+|had\s+)?(?:came|come|arrived|arrive)\b(?!\s+up\b)")


# "what did I miss?", "anything new today", "catch me up", "what's new since monday", "any updates overnight":
# the whole request, said of no one and nothing ("what's new with you", "anything new about black holes" are not)
CAUGHT_UP = re.compile(r"(?i)^\W*(?:(?:hey|hi|ok|okay|so|and)\W+)?(?:what\s+(?:did|have)\s+i\s+miss(?:ed)?|"
                       r"did\s+i\s+miss\s+anything|(?:is\s+there\s+|have\s+i\s+got\s+)?(?:anything|something)\s+new|"
                       r"what(?:'?s|\s+is)\s+new|catch\s+me\s+up|any\s+(?:news|updates))"
                       r"(?:\s+(?:for\s+me|(?:in|on)\s+my\s+(?:e-?mails?|mail|inbox)))?(?P<when>.*?)[\s?.!]*$")


def _outside_what_was_read(config: Config, data: dict[str, Any], label: str, start: datetime,
                           end: datetime) -> str | None:
    """Of a window the calendars were not read for (agenda.read_span), the answer: nothing is known of it
    (asked of March when they were read to January, the model said March was free). Partly outside, the
    part read is kept as data.read, for the model not to call the rest free."""
    known = agenda.read_span(config)
    if known is None or (known[0] <= start and end <= known[1]):
        return None
    read = f"from {known[0]:%-d %B %Y} to {known[1]:%-d %B %Y}"
    if end <= known[0] or start >= known[1]:
        return (f"Nothing is known of your calendar {label}: it was read {read} (`assist ingest ics FILE --since "
                "DATE --until DATE`, or `assist ingest caldav`, reads other dates).")
    data["read"] = read
    return None


def _caught_up(text: str) -> bool:
    """Whether a request asks only what is new or what the person missed, when at most (CAUGHT_UP)."""
    found = CAUGHT_UP.search(text)
    return found is not None and not re.search(r"\w", mail_window(found.group("when"), datetime.now())[3])


def _mail_asked_for(config: Config, task: dict[str, Any], text: str) -> tuple[str, str] | None:
    """Whether a request the request model sent to be answered directly (`chat`) or to the agenda asks of
    the person's mail, as (by, why): what someone said, wrote or sent, or anything from someone, whom the
    mail has mail from (never Junk's), or what came in or arrived. The mail search's to answer, not the
    model's to make up (bench/mail_answers.py: 14 of 40 what-did-they-say questions went to chat, one to
    the agenda; "anything from sam?" and "what came in today" to chat). Of someone it has none from ("what
    did Einstein say about time"), the request stays where it was put."""
    from .mail_search import NOT_SENDERS, senders_named

    fallback = config.section("classify").get("request_fallback", "chat")
    if (task.get("intent") or {}).get("route") not in (fallback, "agenda") or "search_mail" not in config.routes \
            or not config.action_section("imap").get("host"):
        return None
    asked = SAID_BY.search(text) or ANYTHING_FROM.search(text)
    if asked is not None and asked.group(1).lower() not in NOT_SENDERS | NOT_RECIPIENTS \
            and senders_named(config, asked.group(1)):
        return "mail:named", "asks what someone whose mail you have said"
    if ARRIVED.search(text):
        return "mail:arrived", "asks what mail came in"
    if _caught_up(text):
        return "mail:new", "asks what is new"
    return None


def prepare(config: Config, task: dict[str, Any], now: datetime) -> str | None:
    """Put in the task's data the facts its route needs; a sentence for the person when the request
    cannot be served as asked (nothing is planned then)."""
    data = task["data"]
    text = data["text"][:READ_CHARS]  # anyone's, of any length: what is asked is said first
    tz = agenda.zone(config)
    named, named_when = _events_a_chat_question_names(config, task, text, now)
    fallback = config.section("classify").get("request_fallback", "chat")
    if task["intent"].get("route") in (fallback, "agenda") and "agenda" in config.routes and BRIEFING.search(text):
        task["intent"] = {**task["intent"], "route": "agenda", "by": "calendar:briefing", "confidence": 1.0,
                          "reason": "asks for the day's briefing"}
    elif named:
        task["intent"] = {**task["intent"], "route": "agenda", "by": "calendar:named", "confidence": 1.0,
                          "reason": "asks when an event of the calendar is"}
    elif task["intent"].get("route") == fallback and "agenda" in config.routes and FREE_ASKED.search(text):
        task["intent"] = {**task["intent"], "route": "agenda", "by": "calendar:free", "confidence": 1.0,
                          "reason": "asks whether you are free"}
    elif task["intent"].get("route") == fallback and "agenda" in config.routes and _plans_asked(text):
        task["intent"] = {**task["intent"], "route": "agenda", "by": "calendar:plans", "confidence": 1.0,
                          "reason": "asks what you have on at a time"}
    elif (mail_asked := _mail_asked_for(config, task, text)) is not None:
        task["intent"] = {**task["intent"], "route": "search_mail", "by": mail_asked[0], "confidence": 1.0,
                          "reason": mail_asked[1]}
    route = task["intent"]["route"]
    data["now"] = now.strftime("%A %-d %B %Y, %H:%M")  # the model knows no date but the one it is told
    if route == "fallback":  # no request route was sure, and [classify] request_fallback is not a route here
        fallback = config.section("classify").get("request_fallback", "chat")
        return (f"no request route was sure what this asks, and [classify] request_fallback ({fallback}) is not "
                "a route of this home to answer it: nothing was done")
    if route == "agenda":
        if task["intent"].get("by") == "calendar:briefing":  # the day's events and the unread mail, no model
            return _briefing(config, data, now)
        if not agenda.read_any(config):  # else "no events", and the model tells you that you are free
            return ("no calendar has been read yet: `assist ingest ics FILE` or `assist ingest caldav URL` "
                    "reads one (docs/ask.md)")
        label, start, end = window_for(text, now)
        no_day = label == "coming up" or (label in ("this week", SUNDAYS_WEEK)
                                          and not re.search(r"\bthis week\b", text.lower()))
        if no_day and not named:
            named, named_when = _events_named_in_calendar(config, text, now)
        data["named"] = bool(named)
        asks_when = no_day and WHEN_ASKED.search(text) is not None  # and of no day: "when is the team dinner"
        if named:  # "when is the holiday party": that event, whichever week it is in
            label = named_when
            data["events"] = [agenda.describe(e, tz) for e in named]
            if asks_when:  # the answer is the calendar's own line (the 1.5B gave 17:00-22:00 as "7 PM to 2 AM")
                data["window"] = label
                return _when_named(text, named, label, data["events"])
        elif asks_when and (words := event_words(text)):  # "what time is the piano lesson": none has the name
            return _none_named(words)  # (the week's events listed, the 1.5B gave the lesson yoga's time)
        elif (unknown := _outside_what_was_read(config, data, label, start, end)) is not None:
            return unknown
        elif label == "coming up":
            data["events"] = [agenda.describe(e, tz) for e in agenda.between(config, start, end)][:3]
            if NEXT_ONE.search(text):  # "when is my next meeting": the first (the 1.5B named the second)
                data["window"] = label
                return f"Next: {data['events'][0]}." if data["events"] else \
                    f"Nothing is on your calendar in the next {COMING_DAYS} days."
        else:
            listed = agenda.between(config, start, end)
            data["events"] = [agenda.describe(e, tz) for e in listed]
            # a window the question named (with none named, the lookup above found no event by name)
            coming = agenda.between(config, now, now + timedelta(days=NAMED_DAYS)) \
                if not no_day and _name_words(text) else []
            elsewhere = named_elsewhere(text, listed, coming)
            if elsewhere:
                data["elsewhere"] = [agenda.describe(e, tz) for e in elsewhere]
            elif WHEN_ASKED.search(text) and (words := event_words(text)) \
                    and not any(_shared(set(words), e) for e in [*listed, *coming]):
                data["not_named"] = words  # "what time is the piano lesson on thursday": none has that name
            elif FREE_ASKED.search(text) and end - start <= timedelta(days=1) and "read" not in data \
                    and not _name_words(text) - FREE_WORDS:  # "am i free from 9am to 5pm on friday": the calendar says
                data["window"] = label
                return _free_or_not(label, data["events"])
        data["window"] = label
        return None
    if route == "calendar_edit":
        if re.search(r"\b(cancel|remove|delete|clear|move|reschedule)\b", text.lower()):
            return "changing or removing events is not something assist does yet: only adding them"
        found = event_from(text, now)
        if found is None:
            return "say when: a day, and a time unless it takes all day (\"add lunch with Ana on Friday at 1pm\")"
        data["event"] = found
        return None
    if route == "search_mail":
        from .mail_search import CannotSearch, counted, query_of, said_by_the_newest, search_mail

        if not config.action_section("imap").get("host"):
            return "searching your mail needs your mail account: `assist init` sets it up ([actions.imap])"
        when, since, before, rest = mail_window(text, now)
        query = query_of(rest, since, before, when)
        try:
            searched = search_mail(config, query)
        except CannotSearch as exc:
            return str(exc)
        data["found"] = searched.lines
        if query.unseen:
            data["unread"] = True  # "what did I miss": the unread mail, said so to the person and the model
        if any(searched.says):
            data["found_says"] = searched.says
        if when:
            data["window"] = when
        if searched.total > len(searched.lines):
            data["found_total"] = searched.total
        if searched.not_searched:
            data["not_searched"] = searched.not_searched
        # a count, nothing found, Junk, what the newest of what arrived say: no model writes that answer
        return counted(query, searched) or said_by_the_newest(query, searched)
    if route == "draft_email":
        if re.search(r"(?i)\b(?:forward|fwd)\b", text):  # a model would write a mail it never saw
            how = ("ask as \"forward the mail from sam about the contract to bob@example.org\"" if "forward_email"
                   in config.routes else "this home has no route forward_email and no rule forward, which the "
                   "assist.toml `assist init` writes now has")
            return f"a model does not forward mail, it would write one it never saw: {how} (docs/ask.md)"
        if REPLY.search(text):
            return _mail_replied_to(config, text, now, data)
        address = ADDRESS.search(text)
        if address is None:
            return _address_of_name(config, text, data)
        data["to"] = address.group(0)
        return None
    if route == "forward_email":
        return _mail_to_forward(config, text, now, data)
    return None


ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "forward sam's mail about the contract to bob@example.org", "can you fwd the invoice from acme to ana":
# what to forward, then (after the last "to", in a word to three) whom to
FORWARD = re.compile(r"(?i)^\W*(?:please\s+)?(?:(?:can|could|would)\s+you\s+(?:please\s+)?)?(?:forward|fwd)\s+"
                     r"(?P<rest>.*?)[\s.!?]*$", re.DOTALL)
NOT_MAILS = {"it", "this", "that", "them", "these", "those", "one", "forward", "fwd"}  # "forward it": which?


def _mail_to_forward(config: Config, text: str, now: datetime, data: dict[str, Any]) -> str | None:
    """data.to, data.forward (the newest mail of the person's the words find, never Junk's: its
    Message-ID) and data.imap (where it is, as ingestion notes a mail it read), data.found its line; else
    why not. No model reads or writes it: the draft is the mail as it came (email.forward)."""
    from .mail_search import query_of

    if not config.action_section("imap").get("host"):
        return "forwarding your mail needs your mail account: `assist init` sets it up ([actions.imap])"
    asked = FORWARD.search(text)
    parts = re.split(r"(?i)\s+to\s+", asked.group("rest") if asked else text)
    whom = parts.pop() if len(parts) > 1 and len(parts[-1].split()) <= 3 else ""
    what = " to ".join(parts)
    address = ADDRESS.search(whom)
    example = "(\"forward the mail from sam about the contract to bob@example.org\")"
    if address is not None:
        data["to"] = address.group(0)
    elif not whom or whom.split()[0].lower() in NOT_RECIPIENTS:  # "to my accountant": which address?
        return f"say whom to forward it to: their address, or the name of someone you have written to {example}"
    else:
        name = re.sub(r"\W+$", "", whom.split()[0]).removesuffix("'s")
        known = _addresses_named(config, name)
        if len(known) != 1:
            return _whom_to_write(name, known, "give the address to forward it to",
                                  f"forward the mail to {known[0] if known else name.lower() + '@example.org'}")
        data["to"] = known[0]
    when, since, before, rest = mail_window(what, now)
    query = query_of(" ".join(w for w in rest.split() if w.lower() not in NOT_MAILS), since, before, when)
    if query.junk:
        return "a mail in Junk is not forwarded from here: move it out of Junk first, then ask again"
    if not query.sender and not query.words and not query.since:
        return f"say which mail: who it is from or what it is about {example}"
    exactly = query.sender if query.sender and "@" in query.sender else ""  # an address: that one's mail
    searched = _the_newest(config, query, "forward", sender=exactly)
    if isinstance(searched, str):
        return searched
    found = searched.where[0]
    data["found"] = searched.lines
    if searched.total > 1:
        data["found_total"] = searched.total
    data["forward"] = {"message_id": found.message_id}
    data["imap"] = {"account": found.account, "folder": found.folder, "uid": found.uid,
                    "uidvalidity": found.uidvalidity}
    return None


def _the_newest(config: Config, query: MailQuery, doing: str, instead: str = "", sender: str = "") -> MailFound | str:
    """The search for the one mail a request acts on (its newest match, never Junk's; from `sender`'s
    address exactly, when given, of the newest ten), else why there is none: "No mail from sam with
    "contract", in your inbox, ...: nothing to forward"."""
    from .mail_search import CannotSearch, counted, search_mail

    try:
        searched = search_mail(config, query, limit=10 if sender else 1)
    except CannotSearch as exc:
        return str(exc)
    if sender:  # the newest of that address's: its line, where it is, what it says ("" beyond the newest three)
        theirs = [n for n, where in enumerate(searched.where) if where.sender == sender.lower()]
        first = theirs[:1]
        searched = searched._replace(
            lines=[searched.lines[n] for n in first], where=tuple(searched.where[n] for n in first),
            says=[searched.says[n] if n < len(searched.says) else "" for n in first],
            said_by=tuple(searched.said_by[n] for n in first), total=len(theirs))  # of the newest ten
    if not searched.lines:
        said = counted(query, searched)
        return f"{said.removesuffix('.')}: nothing to {doing}{instead}" if said else \
            "; ".join([f"no mail found to {doing}", *searched.not_searched])
    return searched


# when mail came: the last few days, today, yesterday, this or last week or month; since, on or last a day
# "in the last 3 days", "in the past hour", "for the last two hours", "the past week" (7 days; "last week" is the
# calendar's, WEEK_OR_MONTH)
SPAN = re.compile(rf"\b(?:(?:in|over|during|within|for)\s+)?(?:the\s+)?(last|past)\s+(?:({NUMBER})\s+)?"
                  r"(minute|min|hour|hr|day|week|month)s?\b", re.IGNORECASE)
SPAN_SECONDS = {"minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}
# "since three pm", "since 9am", "since 14:30", "since noon": today's, or yesterday's when it is still to come
SINCE_HOUR = re.compile(rf"\bsince\s+(?:({NUMBER})(?:[:.](\d{{2}}))?\s*(am|pm|a\.m\.|p\.m\.|o'?clock)(?=\W|$)|"
                        r"(\d{1,2})[:.](\d{2})\b|(noon|midday))", re.IGNORECASE)
OVERNIGHT = re.compile(r"\b(?:overnight|over\s+night)\b", re.IGNORECASE)
EVENING_HOUR = 18  # "overnight" is since this hour of the day before
DAY_WORD = re.compile(r"\b(?:(?:from|on|since)\s+)?(today|tonight|this\s+(?:morning|afternoon|evening)|yesterday|"
                      r"last\s+night)\b", re.IGNORECASE)
WEEK_OR_MONTH = re.compile(r"\b(?:(?:from|in|during|since)\s+)?(this|last)\s+(week|month)(?:'s)?\b", re.IGNORECASE)
A_DAY = re.compile(rf"\b(since|on|from|last)\s+(?:(?P<weekday>{DAY_WORDS})|(?:the\s+)?(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?"
                   rf"(?:\s+of)?\s+(?P<m1>{MONTH_WORDS})|(?P<m2>{MONTH_WORDS})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?|"
                   rf"the\s+(?P<d3>\d{{1,2}})(?:st|nd|rd|th))\b", re.IGNORECASE)
A_MONTH = re.compile(rf"\b(?:in|during|from|since)\s+({'|'.join(MONTHS)})\b", re.IGNORECASE)


# whom a request writes to, by name: "email sam that", "send an email to Sam saying", "write to ana", "tell bob"
RECIPIENT = re.compile(r"(?i)^\s*(?:please\s+)?(?:(?:send|write|drop)\s+(?:an?\s+)?(?:e-?mail|mail|message|note|"
                       r"line)\s+to|e-?mail|mail|message|write\s+(?:back\s+)?to|reply\s+to|respond\s+to|answer|tell|"
                       r"(?:draft|write|send|compose)\s+(?:an?\s+)?(?:reply|answer|response)\s+to)\s+([^\W\d_][\w'-]*)")
# "reply to dana that we are on it", "answer sam's mail about the contract: signed", "write back to ana saying
# yes": a reply to their newest mail (the words before what to say find which), threaded as one
REPLY = re.compile(r"(?i)^\W*(?:please\s+)?(?:(?:can|could|would)\s+you\s+(?:please\s+)?)?"
                   r"(?:reply|respond|answer|write\s+back|(?:draft|write|send|compose)\s+(?:an?\s+)?(?:reply|answer|"
                   r"response)\s+to)\b")
REPLY_WORDS = {"reply", "respond", "answer", "write", "back", "to"}
SAYING = re.compile(r"(?i)\s+(?:that|saying|and\s+(?:say|tell\s+\w+)|telling\s+\w+|to\s+say)\s+|\s*[:,;]\s+")
NOT_RECIPIENTS = {"me", "myself", "them", "him", "her", "us", "everyone", "everybody", "all", "back", "the", "a",
                  "an", "my", "our", "their", "his", "this", "that", "it"}
NO_ADDRESS = "give the address to write to (\"email ana@example.org that I will be late\")"


def _mail_replied_to(config: Config, text: str, now: datetime, data: dict[str, Any]) -> str | None:
    """data.reply (the newest mail from data.to the request's words find, never Junk's: its Message-ID, its
    subject as the reply's, the start of what it says for the model to answer) and data.found its line;
    else why not. The model given "reply to dana that we are on it" wrote a new mail about "the project
    deadline" to a mail about a booking site that was down, with a subject of its own and no thread."""
    from .mail_search import MailQuery, query_of

    if not config.action_section("imap").get("host"):
        return "replying to a mail needs your mail account: `assist init` sets it up ([actions.imap])"
    head, *said = SAYING.split(text, maxsplit=1)  # which mail, and what to say to it
    if not said:  # "reply to dana": the 1.5B promised "I am available until noon"
        return "say what to reply (\"reply to dana that we are on it\", \"answer sam's mail about the contract: " \
            "signed\"): the reply says what you say, and nothing else"
    named = RECIPIENT.search(text)
    name = (named.group(1).removesuffix("'s") if named else "").lower()
    which = ADDRESS.sub(" ", REPLY.sub(" ", head, count=1))  # "sam's mail about the contract"
    when, since, before, rest = mail_window(which, now)
    words = [w for w in query_of(rest).words if w.lower() not in {*NOT_MAILS, *REPLY_WORDS, name}]
    address = ADDRESS.search(head)
    anyones = MailQuery(None, words, False, since, before, when)  # the mail by its words, from whomever
    refusal = None
    if address is not None:
        data["to"] = address.group(0)
    elif (refusal := _address_of_name(config, text, data, _replied_sender(text), anyones)) == NO_ADDRESS:
        refusal = _sender_of_the_mail(config, anyones, data)
    if refusal is not None:
        return refusal
    query = MailQuery(data["to"], words, False, since, before, when)
    searched = _the_newest(config, query, "reply to", f" (\"email {data['to']} that ...\" writes a new mail)",
                           sender=data["to"])
    if isinstance(searched, str):
        return searched
    found = searched.where[0]
    subject = found.subject if re.match(r"(?i)re\s*:", found.subject) else f"Re: {found.subject}".strip()
    data["found"] = searched.lines
    data["reply"] = {"message_id": found.message_id, "subject": subject, "says": searched.says[0]}
    return None


def _sender_of_the_mail(config: Config, query: MailQuery, data: dict[str, Any]) -> str | None:
    """data["to"]: of a reply that names no one, the sender of the newest mail its words find ("reply to the
    contract mail saying signed"), when the person has written to them (a phisher's newer mail about the
    contract is not answered unasked); else why not."""
    from .correspondents import Correspondents

    if not query.words:  # "reply to it": whose?
        return "say whose mail to reply to: their name or address (\"reply to sam that I will sign it\")"
    searched = _the_newest(config, query, "reply to")
    if isinstance(searched, str):
        return searched
    sender = searched.where[0].sender
    if not sender or not Correspondents.of(config).wrote_to(sender):
        return (f"the newest such mail is from {sender or 'no address'}, whom you have not written to: to answer it, "
                f"say the address (\"reply to {sender or 'them'} that ...\")")
    data["to"] = sender
    return None


def _replied_sender(text: str) -> str | None:
    """Whom a reply that names no one after its verb answers: "reply to the contract mail from sam" sam."""
    from .mail_search import query_of

    named = RECIPIENT.search(text)
    if named and named.group(1).removesuffix("'s").lower() not in NOT_RECIPIENTS:
        return None
    return query_of(ADDRESS.sub(" ", SAYING.split(text, maxsplit=1)[0])).sender


def _address_of_name(config: Config, text: str, data: dict[str, Any], name: str | None = None,
                     replied: MailQuery | None = None) -> str | None:
    """data["to"]: the address of the one person the request names ("email sam that ...", or `name`) whom
    the person has written to; of several, the one with mail that a reply's search (`replied`, its words)
    finds, when only one has ("reply to john's mail about the budget"); else why not."""
    named = RECIPIENT.search(text)
    name = name or (named.group(1).removesuffix("'s") if named else "")
    if not name or name.lower() in NOT_RECIPIENTS or not config.action_section("imap").get("host"):
        return NO_ADDRESS
    known = _addresses_named(config, name)
    if len(known) > 1 and replied is not None and replied.words:
        having = [address for address in known
                  if not isinstance(_the_newest(config, replied._replace(sender=address), "", sender=address), str)]
        known = having if len(having) == 1 else known
    if len(known) == 1:
        data["to"] = known[0]
        return None
    return _whom_to_write(name, known, "give the address to write to",
                          f"email {known[0] if known else name.lower() + '@example.org'} that I will be late")


def _addresses_named(config: Config, name: str) -> list[str]:
    """The addresses of the people called `name` whom the person has written to (correspondents.py),
    found in the From lines of their mail (never Junk's). A stranger who signs with that name is never
    among them: only an address the person chose before."""
    from .correspondents import Correspondents, addresses
    from .mail_search import senders_named

    people = Correspondents.of(config)
    return list(dict.fromkeys(addresses(line)[0] for line in senders_named(config, name)
                              if len(addresses(line)) == 1 and people.wrote_to(line)))


def _whom_to_write(name: str, known: list[str], ask: str, example: str) -> str:
    """Why a name is not an address: several people have it (`known`), or no one the person wrote to."""
    if known:
        listed = ", ".join(known[:-1][:4]) + f" or {known[-1]}"
        return f'who is {name}: {listed}? give the address ("{example}")'
    return f'{ask}: no one called {name} whom you have written to is in your mail ("{example}")'


def mail_window(text: str, now: datetime) -> tuple[str, datetime | None, datetime | None, str]:
    """When the mail a request asks about came, by the person's clock: (how to say it, since, before, the
    text without those words); ("", None, None, text) for any time. A weekday or a date is the last one
    (today's, when it is today's); a day of the month alone, "on the 3rd", this month's or the last's.
    A day inside what the mail is about is a word of it ("about the monday meeting")."""
    today = datetime.combine(now.date(), time(), now.tzinfo)

    def cut(found: re.Match[str]) -> str:
        return text[:found.start()] + text[found.end():]

    for span in SPAN.finditer(text):
        said, unit = span.group(2), span.group(3).lower()
        if said is None and span.group(1).lower() == "last" and unit in ("day", "week", "month"):
            continue  # "last week": the calendar's, below
        count = 1 if said is None else NUMBER_WORDS.get(re.sub(r"\s+", " ", said.lower())) or int(said)
        unit = {"min": "minute", "hr": "hour"}.get(unit, unit)
        back = (now - now.replace(year=1, month=1, day=2)).total_seconds()  # "the last 999 months" in year 50
        since = now - timedelta(seconds=min(count * SPAN_SECONDS[unit], back))
        return f"in the last {unit}" if count == 1 else f"in the last {count} {unit}s", since, None, cut(span)
    hour = SINCE_HOUR.search(text)
    at = _hour_said(hour) if hour else None
    if hour and at is not None:
        since = today.replace(hour=at.hour, minute=at.minute)
        if since > now:
            return f"since yesterday at {at.strftime('%H:%M')}", since - timedelta(days=1), None, cut(hour)
        return f"since {at.strftime('%H:%M')}", since, None, cut(hour)
    found = OVERNIGHT.search(text)
    if found:  # "what came in overnight": since the evening before
        return "overnight", today - timedelta(days=1) + timedelta(hours=EVENING_HOUR), None, cut(found)
    found = DAY_WORD.search(text)
    if found:
        yesterday = found.group(1).lower() in ("yesterday", "last night")
        since = today - timedelta(days=1) if yesterday else today
        return ("yesterday" if yesterday else "today"), since, since + timedelta(days=1), cut(found)
    found = WEEK_OR_MONTH.search(text)
    if found:
        this, week = found.group(1).lower() == "this", found.group(2).lower() == "week"
        start = agenda.week_of(now)[0] if week else today.replace(day=1)
        earlier = start - timedelta(days=7) if week else (start - timedelta(days=1)).replace(day=1)
        return f"{found.group(1).lower()} {found.group(2).lower()}", *((start, None) if this else (earlier, start)), \
            cut(found)
    found = A_DAY.search(text)
    day = _last_day(found, now) if found else None
    if found and day is not None:
        start = datetime.combine(day, time(), now.tzinfo)
        if found.group(1).lower() == "since":
            return start.strftime("since %A %-d %B"), start, None, cut(found)
        return start.strftime("on %A %-d %B"), start, start + timedelta(days=1), cut(found)
    found = A_MONTH.search(text)
    if found:
        number = MONTHS.index(found.group(1).lower()) + 1
        start = today.replace(year=now.year - (number > now.month), month=number, day=1)
        after = start.replace(year=start.year + (number == 12), month=number % 12 + 1)
        return start.strftime("in %B %Y"), start, None if found.group(0).lower().startswith("since") else after, \
            cut(found)
    return "", None, None, text


def _hour_said(found: re.Match[str]) -> time | None:
    """The time of day a SINCE_HOUR match says; None for one no clock has ("since 13pm")."""
    if found.group(6):
        return time(12)
    if found.group(4):
        hour, minute = int(found.group(4)), int(found.group(5))
    else:
        said = re.sub(r"\s+", " ", found.group(1).lower())
        hour, minute = NUMBER_WORDS.get(said) or int(said), int(found.group(2) or 0)
        half = found.group(3).lower().replace(".", "")
        if half in ("am", "pm") and not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0) if half in ("am", "pm") else hour
    return time(hour, minute) if hour < 24 and minute < 60 else None


def _last_day(found: re.Match[str], now: datetime) -> date | None:
    """The day an A_DAY match names, the last one up to today; None for a date no calendar has."""
    if found.group("weekday"):
        back = (now.weekday() - ((_named(found.group("weekday"), DAYS) or 1) - 1)) % 7
        return now.date() - timedelta(days=back or (7 if found.group(1).lower() == "last" else 0))
    number = int(found.group("d1") or found.group("d2") or found.group("d3"))
    month_text = found.group("m1") or found.group("m2")
    candidates = [(now.year, _named(month_text, MONTHS) or 0), (now.year - 1, _named(month_text, MONTHS) or 0)] \
        if month_text else [(now.year, now.month), (now.year - (now.month == 1), (now.month - 2) % 12 + 1)]
    for year, month in candidates:
        with contextlib.suppress(ValueError):
            day = date(year, month, number)
            if day <= now.date():
                return day
    return None


NO_TEXT = "this request has no text to answer (data.text)"


def prepare_request(config: Config, task: dict[str, Any], now: datetime | None = None) -> str | None:
    """prepare() for a request task, as of `now`, else the time it was asked (data.asked_at), else now;
    the refusal is kept as data.answer. The facts a task arrived with are dropped first: a request's
    document is its author's, the facts are the calendar's and the mailbox's."""
    tz = agenda.zone(config)
    data = task.setdefault("data", {})
    for key in FACTS:
        data.pop(key, None)
    if not isinstance(data.get("text"), str) or not data["text"].strip():  # a webhook's or a pipe's document
        data["answer"] = NO_TEXT
        return NO_TEXT
    refusal = prepare(config, task, (now or asked_when(data, tz)).astimezone(tz))
    if refusal is not None:
        data["answer"] = refusal
    elif written_to_the_assistant([data.get(key) for key in ("events", "elsewhere", "found", "found_says",
                                                             "not_searched", "reply")]):
        data["written_to_the_assistant"] = True  # an invitation's title, a found mail's subject: anyone's words
    return refusal


def ask(config: Config, text: str, now: datetime | None = None, on_piece: Callable[[str], None] | None = None,
        on_facts: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Classify, prepare (on_facts sees the task then), answer (streamed to on_piece), then plan the
    route's actions from the queue `ask`. The task as it ends."""
    from .act.plan import proposal_schema
    from .ai import grounding
    from .ai.models import Models
    from .ai.prompting import PromptBuilder
    from .ai.running import run_prompt
    from .decide.engine import DecisionEngine
    from .task import normalize

    if not any(route.get("request") for route in config.routes.values()):
        from .errors import ConfigError

        if config.path is None:
            raise ConfigError([f"no assist.toml in {config.home}: `assist init` writes one, with the routes "
                               "that answer requests (docs/ask.md)"])
        raise ConfigError([f"{config.path}: routes: no request routes (request = true) to answer with: "
                           "`assist init` writes the default ones (docs/ask.md)"])
    tz = agenda.zone(config)
    now = (now or datetime.now(tz)).astimezone(tz)
    task = normalize({"type": "request", "data": {"text": text, "asked_at": now.isoformat()}}, source="ask")
    [task["intent"]] = DecisionEngine(config).decide([task])
    refusal = prepare_request(config, task, now)
    if on_facts is not None:
        on_facts(task)
    if refusal is not None:
        return task
    models = Models(config)
    section = PromptBuilder(config, models, proposals=proposal_schema).build(task)
    if section is not None:
        task["prompt"] = section
        task["result"] = run_prompt(section, models, on_piece if section.get("schema") is None else None)
        grounding.check(task)  # a draft's body (the template's `grounded`), as `assist run` does
        check_answer(task)
    route = config.routes.get(task["intent"]["route"], {})
    if route.get("fixed") or route.get("actions") or route.get("confirm"):
        task = _act(config, task)
    return task


def _act(config: Config, task: dict[str, Any]) -> dict[str, Any]:
    """The act stage on this one task, from the queue `ask`: what waits for approval stays there."""
    from .stages.act import ActStage
    from .stages.runner import Runner, RunOptions

    backend = config.backend()
    queue = backend.queue(ASK_QUEUE)
    queue.put(task)
    Runner(ActStage(), config, RunOptions(source=ASK_QUEUE, once=True, pass_on=False)).run()
    _, done = queue.get(task["id"])
    return done
