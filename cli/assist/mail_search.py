"""Searching the person's mail for a request ("any mail from ana about the invoice", "how many emails did I
get today"): an IMAP SEARCH of each account, read-only, in the folders the person keeps mail in, never
Junk. The words are read here (MailQuery); when the mail came is read by asking.mail_window, by the
person's clock, and kept to the second by each mail's arrival (INTERNALDATE), not the Date its sender wrote.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .config import Config
    from .mail import ImapAccount

# English words that name nothing a mail is searched for ("and", "if", "with", "at"): never a search's word
FUNCTION_WORDS = {
    "a", "an", "the", "this", "that", "these", "those", "my", "our", "your", "his", "her", "their", "its", "i", "me",
    "we", "us", "you", "he", "him", "she", "they", "them", "it", "and", "or", "but", "nor", "if", "whether", "than",
    "then", "so", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "up", "down", "out", "off",
    "over", "as", "about", "regarding", "concerning", "is", "are", "was", "were", "be", "been", "being", "am", "do",
    "does", "did", "done", "have", "has", "had", "having", "can", "could", "will", "would", "shall", "should", "may",
    "might", "must", "not", "no", "yes", "any", "some", "all", "each", "every", "there", "here", "what", "which",
    "who", "whom", "whose", "when", "where", "why", "how", "what's", "whats", "yet", "just", "still", "already",
    "also", "too", "very", "since", "until", "ago", "s", "t", "ve", "ll", "re", "d", "m",
}
# a mail, a mailbox: what every searched mail is, so never a word it is searched for
MAIL_NOUNS = {"email", "emails", "e-mail", "e-mails", "mail", "mails", "message", "messages", "inbox", "mailbox",
              "gmail", "outlook"}
# a request's own words, said to the assistant ("hey, let me know if ...", "check", "how many"), and of how
# the mail is to be shown ("the subjects and senders"): not the mail's, unless they follow "about"
REQUEST_WORDS = {
    "hey", "hi", "ok", "okay", "please", "olly", "siri", "alexa", "assistant", "let", "know", "tell", "show", "find",
    "search", "check", "look", "see", "open", "bring", "give", "pull", "display", "list", "read", "report", "notify",
    "refresh", "fetch", "want", "need", "like", "get", "got", "gotten", "anything", "everything", "something",
    "new", "unread", "latest", "last", "recent", "recently", "newest", "incoming", "personal", "important",
    "write", "wrote", "written", "send", "sent", "emailed", "mailed", "reply", "replied", "replies", "say", "said",
    "says", "saying", "answered", "back", "many", "much", "come", "came", "arrive", "arrived", "receive",
    "received", "accumulated", "went", "gone", "put", "moved", "filed", "marked", "caught",
    "summarise", "summarize", "summary", "activity", "alerts", "updates", "update", "news", "subject", "subjects",
    "sender", "senders", "line", "lines", "time", "stamp", "timestamp", "mentioning", "mentions", "mention",
    "containing", "contains", "contain", "word", "words", "miss", "missed", "catch",
}
# the person's mailbox said another way ("on my email account", "my gmail app")
MAILBOX = re.compile(r"(?i)\b(?:e-?mail|mail|gmail|outlook)\s+(?:account|box|app|client)s?\b")
STOP_WORDS = FUNCTION_WORDS | MAIL_NOUNS | REQUEST_WORDS
# where what the mail is about begins: "about the invoice", "in regard to my promotion", "having to do with
# budgets", "that contains the word meeting"
ABOUT = re.compile(r"(?i)\b(?:about|regarding|concerning|on|(?:in|with)\s+regards?\s+to|(?:having\s+)?to\s+do\s+"
                   r"with|related\s+to|(?:that\s+|which\s+)?(?:contain(?:s|ing)?|mention(?:s|ing)?)(?:\s+the\s+"
                   r"words?)?|with\s+the\s+words?)\s+(.+)$")
# the sender of a question that does not say "from": "did Ana write to me", "has Bob sent me anything"
NOT_SENDERS = {"i", "you", "we", "they", "he", "she", "it", "anyone", "anybody", "someone", "somebody", "nobody",
               "who", "what", "which", "that", "this", "everyone", "everybody", "one"}
SOMEONE = r"(?:(?:the|my|our)\s+)?([\w.@+-]+)"  # "ana", "the clinic", "my mom": the sender is the last word
SENT_BY = re.compile(rf"(?i)\b(?:did|has|have)\s+{SOMEONE}\s+(?:ever\s+|already\s+|just\s+)?(?:write|written|"
                     r"wrote|send|sent|e-?mail(?:ed)?|mail(?:ed)?|reply|replied|answer(?:ed)?|say|said|get\s+back|"
                     r"gotten\s+back|got\s+back)\b")
# "casey emails me", "what andrew emailed me about", "if lena sent the slides", "the electrician got back to me"
SENDS = re.compile(rf"(?i)\b{SOMEONE}\s+(?:has\s+|have\s+|just\s+)?(?:e-?mails|e-?mailed|mails|mailed|writes|wrote|"
                   r"written|sends|sent|replied|replies|answered|got\s+back|gotten\s+back|wrote\s+back)\b")
# "from John Smith", "from the council", "from Dr. Okafor": a name of one or two words
FROM = re.compile(r"(?i)\bfrom\s+(?:(?:the|my|our|your|this|that|a|an)\s+)?(?:(?:dr|mr|mrs|ms|prof)\.?\s+)?"
                  r"([\w.@+-]+)(?:\s+([^\W\d_][\w'-]*))?")

# what follows a sender's name and is no part of it ("from sam yesterday evening": asking.mail_window cut "yesterday")
TIME_WORDS = {"morning", "afternoon", "evening", "night", "tonight", "today", "yesterday", "tomorrow", "week",
              "weekend", "month", "year", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

CLOCK = re.compile(r"(?i)\d{1,2}(?:[:.]\d{2})?(?:am|pm)")

# the sender of "sam's mail", "ana's invoice" (not "last week's", "today's": when it came, asking.mail_window)
OWNER = re.compile(r"(?i)\b([^\W\d_][\w.@+-]*)['\u2019]s\b")
NOT_OWNERS = {"it", "that", "what", "there", "here", "who", "let", "he", "she", "today", "yesterday", "tonight",
              "week", "month", "year", "everyone", "everybody", "someone", "somebody", "one"}

HEADERS_SHOWN = "(BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE AUTHENTICATION-RESULTS MESSAGE-ID)])"
WHERE = "in your inbox, archive and the folders your routes file mail in (Junk is not searched)"
# a question about what was filed as spam ("what went to junk today"), not about mail that speaks of spam
JUNK = re.compile(r"(?i)\b(?:junk|spam)(?:\s+(?:folder|mail|mails|emails))?\b")
OWN_ADDRESS = re.compile(r'[^\s"\\]+@[^\s"\\]+')  # one of the person's addresses, as a quoted string may hold it
HOW_MANY = re.compile(r"(?i)\bhow\s+many\b|\bcount\b|\bnumber\s+of\b")


class CannotSearch(Exception):
    """The mail server refused a search (a word beyond ASCII, where it knows no UTF-8): the answer says so."""


class MailQuery(NamedTuple):
    """What a request searches for: terms are words (letters and digits of any script, @ . + - _), so
    nothing else reaches the protocol line; `since` and `before` bound when the mail arrived."""

    sender: str | None
    words: list[str]
    unseen: bool
    since: datetime | None = None
    before: datetime | None = None
    when: str = ""  # how the window is said: "today", "since Monday 7 December"; "" for any time
    junk: bool = False  # the spam route's folder, and only it
    counted: bool = False  # "how many": the answer is the count


class Where(NamedTuple):
    """Where a found mail is: as ingestion notes a mail it read (data.imap); and what names it, its
    Message-ID ("" for none), its subject (one printable line, as a reply's Subject takes it) and its
    sender's address (lower-case; a search FROM finds "notsam@x.org" for "sam@x.org")."""

    account: str  # user@host:port (ImapAccount.address)
    folder: str
    uid: int
    uidvalidity: int | None
    message_id: str
    subject: str = ""
    sender: str = ""


class MailFound(NamedTuple):
    lines: list[str]  # the newest mails found, one line each, newest first
    not_searched: list[str]  # each account that could not be searched, with why
    total: int  # how many mails matched in all (the lines are the newest of them)
    says: list[str]  # what each of the newest SAYS of them says (its start, its own words), "" beyond
    where: tuple[Where, ...] = ()  # where each line's mail is
    said_by: tuple[str, ...] = ()  # who sent each line's mail (their name, else their address) and its subject


Found = tuple[float, str, str, str, Where]  # a mail found: when it arrived, its line, what it says, by, where
SAYS = 3  # the newest mails found whose words a model reads ("what did sam say about the contract")
SAYS_CHARS = 500  # of each: its start
SAYS_READ = 16384  # bytes of the mail fetched to read that start from
PREVIEW_CHARS = 200  # of what each says, in an answer of many mails with no model (said_by_the_newest)
# "Hi all,", "Hello Bob!", "Dear Ms Lee,": no news of what a mail says
GREETING = re.compile(r"(?i)^(?:hi|hello|hey|dear|greetings|folks|all|good\s+(?:morning|afternoon|evening))\b"
                      r"[^.!?,:;]{0,40}[,!:;]\s*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def query_of(text: str, since: datetime | None = None, before: datetime | None = None, when: str = "") -> MailQuery:
    """The request's search: its sender ("from X", "did X write", "X emailed me", "X's mail"), "unread" or
    "new" unread mail, and up to three words the mail's text has: those after "about" (or "regarding",
    "in regard to", "that mentions"), when it says so, else the request's own but those it says to the
    assistant ("hey, let me know if ..."). When the mail came is asking.mail_window's, read before."""
    text = MAILBOX.sub(" ", text)
    about_at = ABOUT.search(text)
    junk = JUNK.search(text[:about_at.start()] if about_at else text)
    if junk:
        text = text[:junk.start()] + text[junk.end():]
        about_at = ABOUT.search(text)
    asked = text[:about_at.start()] if about_at else text  # "the party at ana's" is what it is about
    counted = HOW_MANY.search(asked) is not None  # not "about the number of seats"
    asked = HOW_MANY.sub(" ", asked)
    sender = _sender(asked)
    if sender is not None:
        asked = asked.replace(sender[1], " ")
    if about_at:
        words = [w for w in _words(about_at.group(1)) if w.lower() not in FUNCTION_WORDS | MAIL_NOUNS]
    else:  # "any mail from sam yesterday evening at 6pm": when it came is no word of it
        words = [w for w in _words(asked) if w.lower() not in STOP_WORDS | TIME_WORDS and not CLOCK.fullmatch(w)]
    unseen = re.search(r"\b(unread|new|miss|missed)\b", asked, re.IGNORECASE) is not None  # "what did i miss"
    return MailQuery(sender[0] if sender else None, words[:3], unseen, since, before, when, junk is not None, counted)


def _words(text: str) -> list[str]:
    return [w.strip(".") for w in re.findall(r"[\w@.+-]+", text) if w.strip(".")]


def _sender(text: str) -> tuple[str, str] | None:
    """Who sent the mail a request asks about, and the words of the request that say so."""
    found = FROM.search(text)
    if found and found.group(1).strip(".").lower() not in STOP_WORDS:
        name = found.group(1).strip(".")
        second = found.group(2)
        if second and second.lower() not in STOP_WORDS | TIME_WORDS and "@" not in name:  # "from John Smith"
            return f"{name} {second}", found.group(0)
        return name, found.group(0)[:found.end(1) - found.start(0)]
    for pattern in (SENT_BY, SENDS):
        for found in pattern.finditer(text):
            name = found.group(1).strip(".")
            if name.lower() not in NOT_SENDERS | STOP_WORDS:
                return name, found.group(0)
    for found in OWNER.finditer(text):  # "sam's mail": its "s" is no word of the mail
        if found.group(1).lower() not in NOT_OWNERS | STOP_WORDS:
            return found.group(1), found.group(0)
    return None


def counted(query: MailQuery, found: MailFound) -> str | None:
    """The answer that needs no model, when every account was searched: how many mails matched what and
    where, when that is the question ("how many"), when none did, and for Junk (judged spam: no model
    reads it); None when the model is to answer."""
    if found.not_searched or not (query.counted or query.junk or not found.lines):
        return None
    said = ("No" if not found.total else str(found.total)) + (" unread" if query.unseen else "")
    said += " mail" + ("s" if found.total > 1 else "")
    said += f" from {query.sender}" if query.sender else ""
    said += " with " + ", ".join(f'"{word}"' for word in query.words) if query.words else ""
    said += f" that arrived {query.when}" if query.when else ""
    shown = len(found.lines)
    return f"{said}, {'in Junk' if query.junk else WHERE}" + (
        f"; the newest {shown} are above." if found.total > shown else ".")


def search_mail(config: Config, query: MailQuery, limit: int = 10) -> MailFound:
    """The newest mails (by arrival) of the person's accounts that match, one line each, a line of
    [actions.imap.accounts.NAME]'s marked "[NAME]"; IMAP SEARCH, read-only, in each account's inbox,
    archive and the routes' folders, never Junk (_searched_in). And each account that could not be
    searched, with why ("me@corp.example (your account work): imap ...: cannot connect"): the accounts are
    searched at once, and one down does not keep the others' mail from the person. When none could be,
    the first one's error is raised."""
    from concurrent.futures import ThreadPoolExecutor

    from .errors import AssistError
    from .mail import configured_accounts
    from .printable import printable

    def searched(account: ImapAccount) -> tuple[list[Found], int] | AssistError | CannotSearch:
        try:
            return _search(account, config, query, limit)
        except (AssistError, CannotSearch) as exc:
            return exc

    accounts = configured_accounts(config)
    with ThreadPoolExecutor(max_workers=max(1, len(accounts))) as pool:
        outcomes = list(pool.map(searched, accounts))
    failed = [(account, each) for account, each in zip(accounts, outcomes, strict=True) if not isinstance(each, tuple)]
    if accounts and len(failed) == len(accounts):
        raise failed[0][1]
    read = [each for each in outcomes if isinstance(each, tuple)]
    found = sorted((line for lines, _ in read for line in lines),
                   key=lambda each: each[0], reverse=True)  # newest first; a sort keeps each account's order
    # a server's words (a refusal's text) are bounded and printable, as a found mail's subject is
    not_searched = [printable(f"{account.user}{f' (your account {account.label})' if account.label else ''}: "
                              f"{exc}")[:300] for account, exc in failed]
    return MailFound([line for _, line, *_ in found[:limit]], not_searched, sum(total for _, total in read),
                     [says for _, _, says, *_ in found[:min(limit, SAYS)]],  # "" for a count's, Junk's (_search)
                     tuple(where for *_, where in found[:limit]), tuple(by for *_, by, _ in found[:limit]))


def senders_named(config: Config, name: str, limit: int = 50) -> list[str]:
    """The From lines of the newest mails (`limit` a folder) whose sender has `name` as a word of their
    name or address, in every account's folders a search looks in (never Junk), each once; an account that
    cannot be read gives none."""
    from .errors import AssistError
    from .mail import configured_accounts, imap_folder, imap_reading

    query = MailQuery(name, [], False)
    found: list[str] = []
    for account in configured_accounts(config):
        try:
            with imap_reading(account, "the mail to look the name up in") as conn:
                for folder, _ in _searched_in(conn, config):
                    if conn.select(imap_folder(folder), readonly=True)[0] != "OK":
                        continue
                    uids = _found(conn, query)[-limit:]
                    if not uids:
                        continue
                    _, parts = conn.uid("FETCH", b",".join(uids).decode(), "(BODY.PEEK[HEADER.FIELDS (FROM)])")
                    found += [p[1].decode("utf-8", "replace") for p in reversed(parts)
                              if isinstance(p, tuple) and isinstance(p[1], bytes)]
        except (AssistError, CannotSearch):
            continue
    words = re.compile(rf"(?i)(?<![\w.]){re.escape(name)}(?![\w])")
    values = (line.partition(":")[2].strip() for line in found)
    return list(dict.fromkeys(value for value in values if words.search(value)))


def _search(account: ImapAccount, config: Config, query: MailQuery,
            limit: int) -> tuple[list[Found], int]:
    """(when it arrived, its line, what it says, who sent it about what, where it is) of the newest `limit` mails that
    match in each folder of one account a search looks in (_searched_in), a line of a folder other than the
    inbox marked " (in FOLDER)", what the newest SAYS say read unless the answer is a count or about Junk;
    and how many matched in all."""
    import imaplib
    import time
    from email.utils import parseaddr

    from .correspondents import own_addresses
    from .ingest.mail import parse_message
    from .mail import arrivals, imap_folder, imap_reading
    from .printable import printable

    mark = f"[{account.label}] " if account.label else ""
    own = own_addresses(config)
    out, total = [], 0
    with imap_reading(account, "the mail to search") as conn:
        for folder, said in _searched_in(conn, config, query.junk):
            if conn.select(imap_folder(folder), readonly=True)[0] != "OK":
                continue  # gone since it was listed
            where = f" (in {printable(said)[:100]})" if said else ""
            validity = (conn.response("UIDVALIDITY")[1] or [None])[-1]
            uids = _found(conn, query, own)
            if query.since or query.before:  # the server's SINCE and BEFORE are days of its own clock
                arrived = arrivals(conn, uids)
                uids = [uid for uid in uids if _within(arrived.get(uid), query)]
            total += len(uids)
            fetched = []
            for uid in reversed(uids[-limit:]):
                _, parts = conn.uid("FETCH", uid.decode(), f"(INTERNALDATE {HEADERS_SHOWN[1:]}")
                part = next((p for p in parts if isinstance(p, tuple)), (b"", b""))
                when = imaplib.Internaldate2tuple(part[0])
                fetched.append((time.mktime(when) if when else 0.0, uid, parse_message(part[1])))
            fetched.sort(key=lambda each: each[0], reverse=True)  # what the newest say: newest by arrival, as
            for n, (came, uid, headers) in enumerate(fetched):  # the answer has them, not by UID
                says = _says(conn, uid) if n < SAYS and not (query.counted or query.junk) else ""
                out.append((came, mark + _line(headers) + where, says, _said_by(headers),
                            Where(account.address, folder, int(uid), int(validity) if validity else None,
                                  _strict(headers.get("message_id")),
                                  printable(" ".join(str(headers.get("subject") or "").split()))[:200],
                                  printable(parseaddr(str(headers.get("from") or ""))[1].lower())[:320])))
    return out, total


def _says(conn: Any, uid: bytes) -> str:
    """The start of what a mail says, in its own words (ai/mail_view.readable_body: not the mail it
    quotes, nor its signature), read from its first SAYS_READ bytes as ingestion reads a mail; one line."""
    from .ai.mail_view import readable_body
    from .ingest.mail import parse_message
    from .printable import printable

    _, parts = conn.uid("FETCH", uid.decode(), f"(BODY.PEEK[]<0.{SAYS_READ}>)")
    raw = next((p[1] for p in parts if isinstance(p, tuple) and isinstance(p[1], bytes)), b"")
    words = " ".join(readable_body(str(parse_message(raw).get("body_text") or "")).split())
    return printable(words if len(words) <= SAYS_CHARS else words[:SAYS_CHARS].rsplit(" ", 1)[0] + " …")


def said_by_the_newest(query: MailQuery, found: MailFound) -> str | None:
    """The answer that needs no model to a question of what arrived, of no sender and no words ("what did
    I miss", "summarise my unread mail", "what came in today"), when two mails or more were read and every
    account searched: what the newest say, each its start in its own words (preview). A 1.5B model given
    them copied them out and was cut at max_tokens (9 of 10 answers), and told to say each in a line said
    less than their first sentences do, or wrote a prompt's example as a mail's news (bench/README.md,
    mail_answers)."""
    if found.not_searched or query.sender or query.words or query.counted or query.junk:
        return None
    read = newest_said(found)
    return f"What the newest {len(read)} say, in their own words:\n" + "\n".join(read) if len(read) > 1 else None


def newest_said(found: MailFound) -> list[str]:
    """A line for each of the newest mails found whose words were read: "- NAME (SUBJECT): " and its preview."""
    return [f"- {by}: {preview(says)}" for by, says in zip(found.said_by, found.says, strict=False) if says]


def preview(says: str) -> str:
    """The start of what a mail says as a mail client previews it: no greeting, its first sentences up to
    PREVIEW_CHARS, cut at a word."""
    text = GREETING.sub("", says, count=1) or says
    kept = ""
    for sentence in SENTENCE_END.split(text):
        if kept and len(kept) + len(sentence) >= PREVIEW_CHARS // 2:
            break
        kept = f"{kept} {sentence}".strip()
    return kept if len(kept) <= PREVIEW_CHARS else kept[:PREVIEW_CHARS].rsplit(" ", 1)[0] + " …"


def _said_by(headers: dict[str, Any]) -> str:
    """Who sent a mail (the From header's name, else its address) and its subject: "Ana Lima (Review)";
    one printable line."""
    from email.utils import parseaddr

    from .printable import printable

    name, address = parseaddr(str(headers.get("from") or ""))
    who = " ".join((name or address or str(headers.get("from") or "someone")).split())[:100]
    subject = " ".join(str(headers.get("subject") or "").split())[:100]
    return printable(f"{who} ({subject})" if subject else who)


def _within(arrived: float | None, query: MailQuery) -> bool:
    return arrived is not None and (query.since is None or arrived >= query.since.timestamp()) and (
        query.before is None or arrived < query.before.timestamp())


def _searched_in(conn: Any, config: Config, junk: bool = False) -> list[tuple[str, str]]:
    """(folder, how a match there is marked: "" for none) of one account's mail a search looks in: the
    folder the server marks as holding all mail when there is one (\\All: Gmail's "[Gmail]/All Mail", the
    inbox, the archive and every label, each mail once); else the inbox, the archive (\\Archive, else an
    archive's usual name: mail.folder_on_server) and the folders the routes file mail in (Lists). Never
    the spam route's Junk: what is there was judged spam, not the person's mail to answer from; with
    `junk`, that folder alone (what the person asked about)."""
    from .decide.spam_policy import spam_route_name
    from .junk_folder import route_folders
    from .mail import folder_on_server, marked_folder

    spam_route = spam_route_name(config)
    if junk:
        named = [folder for folder, route in route_folders(config).items() if route == spam_route] or ["Junk"]
        return [(folder, "") for folder in (folder_on_server(conn, name) for name in named) if folder]
    everything = marked_folder(conn, "All")
    if everything is not None:
        return [(everything, "")]
    named = ["Archive", *(folder for folder, route in route_folders(config).items() if route != spam_route)]
    found = [folder_on_server(conn, name) for name in named]
    kept = dict.fromkeys(folder for folder in found if folder and folder.upper() != "INBOX")
    return [("INBOX", ""), *((folder, folder) for folder in kept)]


def _found(conn: Any, query: MailQuery, own: list[str] | None = None) -> list[bytes]:
    """The UIDs of the mails every term finds, oldest first, none from the `own` addresses (the person's
    own mail: Gmail's All Mail holds what they sent); within a day either side of the query's window
    (the server's days are of its clock). ASCII terms go as quoted strings; a term beyond ASCII as UTF-8
    (CHARSET UTF-8), a literal, which imaplib sends one of per command, last: one SEARCH per such term,
    the answers intersected."""
    from .mail import imap_day
    from .printable import printable

    terms = ([("FROM", query.sender)] if query.sender else []) + [("TEXT", word) for word in query.words]
    plain = [part for key, term in terms if term.isascii() for part in (key, f'"{term}"')]
    asked = (query.sender or "").lower()  # "any mail from me@example.org": that is asked for
    mine = [address for address in own or [] if OWN_ADDRESS.fullmatch(address) and address != asked]
    plain += [part for address in mine for part in ("NOT", "FROM", f'"{address}"')]
    plain += ["UNSEEN"] if query.unseen else []
    plain += ["SINCE", imap_day(query.since.timestamp() - 86400)] if query.since else []
    plain += ["BEFORE", imap_day(query.before.timestamp() + 86400)] if query.before else []
    wide = [(key, term) for key, term in terms if not term.isascii()]
    if not wide:
        status, found = conn.uid("SEARCH", *(plain or ["ALL"]))
        return found[0].split() if status == "OK" and found and found[0] else []
    common: set[bytes] | None = None
    for key, term in wide:
        conn.literal = term.encode()
        status, found = conn.uid("SEARCH", "CHARSET", "UTF-8", *plain, key)
        if status != "OK":
            said = printable(str(found[0] if found else b"", "ascii", "replace"))[:200]
            raise CannotSearch(f"your mail server cannot search for {term!r}, a word beyond ASCII ({said}): "
                               "ask with other words")
        uids = set(found[0].split()) if found and found[0] else set()
        common = uids if common is None else common & uids
    return sorted(common or (), key=int)


def _strict(found: object) -> str:
    """A found mail's Message-ID, "" when it has none of the strict form an action may name (message_id.py)."""
    from .message_id import PATTERN

    return found if isinstance(found, str) and re.fullmatch(PATTERN, found) else ""


def found_line(raw: bytes) -> str:
    """One found mail's date, sender and subject, from its header lines as the server sent them: read as
    ingestion reads a stranger's mail (each header cut before it is parsed), one printable line; and where
    it is really from when its sender reads as another or the provider could not confirm it (lookalikes)."""
    from .ingest.mail import parse_message

    return _line(parse_message(raw))


def _line(data: dict[str, Any]) -> str:
    """found_line of the headers read (ingest/mail.parse_message)."""
    from .lookalikes import sender
    from .printable import printable

    date = (data.get("date") or "")[:16].replace("T", " ")
    look = sender(data)
    return printable(f"{date} {data.get('from', '')}: {data.get('subject', '')}".strip())[:200] + (
        f" (look: {printable(look)[:200]})" if look else "")
