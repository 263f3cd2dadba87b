"""What a person should be told about where an action goes, or a mail comes from: addresses and links
that look like others. A mail can ask the model to send something to `ana@exаmple.org` (a Cyrillic
"а"), which reads as the real domain and is another, or to `"ana@example.org" <x@evil.example>`, whose
name reads as an address; a mail can come from such addresses too. Where a person approves (`assist
queue ls`, `assist top`, the dashboard, `assist ask`) these notices are shown beside the action, and the
shipped Inbox entry says where a mail is really from (the template filter `sender_lookalike`), and
when the person's provider could not confirm its sender (DMARC). Nothing is refused here: a domain in
another script is often the right one.
"""

from __future__ import annotations

import re
from typing import Any

MAX_STRINGS = 200  # strings of an action's arguments looked at
ADDRESS_KEYS = ("to", "cc", "bcc", "reply_to", "from")
HOST = re.compile(r"(?:@|\b[a-z][a-z0-9+.-]*://(?:[^/@\s]*@)?)([^\s/?#<>\"',;:@]+)", re.IGNORECASE)


def notices(args: Any) -> list[str]:
    """Sentences about the addresses and hosts of an action's arguments that look like others."""
    out: list[str] = []
    for key, text in _strings(args):
        if key in ADDRESS_KEYS:
            out += _named_as_another(text, "from" if key == "from" else "goes to")
        for host in HOST.findall(text):
            note = _beyond_ascii(host.rstrip(".")) if "." in host.strip(".") else None  # not an @mention
            if note:
                out.append(note)
    return list(dict.fromkeys(out))


def sender(mail: Any) -> str:
    """`{{ data | sender_lookalike }}`: where a mail is really from when its sender reads as another, and
    that the person's provider could not confirm the sender ("" when neither). Given a From line alone
    (`data.from | sender_lookalike`, as older homes have it), the first."""
    data = mail if isinstance(mail, dict) else {"from": mail}
    found = notices({"from": str(data.get("from") or "")})
    unconfirmed = not_confirmed(data)
    return "; ".join([*found, unconfirmed] if unconfirmed else found)


def not_confirmed(data: dict[str, Any]) -> str | None:
    """What to say when the provider's DMARC check of a mail's From domain failed (Authentication-Results,
    the topmost: the receiving provider's; ingest/mail.py), else None: anyone can write any From line, and
    this one was not confirmed. Only a failure counts: a sender can write a passing header of their own,
    which says nothing more than no header; a failing one only casts doubt on their own mail. Also what
    takes a correspondent's privileges from a mail (decide/spam_policy.py)."""
    from email.utils import parseaddr

    auth = data.get("authentication")
    if not isinstance(auth, dict) or str(auth.get("dmarc", "")).lower() != "fail":
        return None
    domain = parseaddr(str(data.get("from") or ""))[1].rpartition("@")[2] or "the address it shows"
    return f"the provider could not confirm it is from {domain}: dmarc=fail"


def _named_as_another(text: str, way: str) -> list[str]:
    """An address whose display name holds another address: "ana@example.org" <x@evil.example>."""
    from email.utils import getaddresses

    out = []
    for name, address in getaddresses([text]):
        shown = re.findall(r"[^\s<>\"']+@[^\s<>\"']+", name)
        if shown and any(s.lower() != address.lower() for s in shown):
            out.append(f"{way} {address}, whose name reads as {shown[0]}")
    return out


def _beyond_ascii(host: str) -> str | None:
    if host.isascii():
        return None
    try:
        ascii_form = host.encode("idna").decode("ascii")
    except UnicodeError:
        return f"{host} is written with letters beyond ASCII and has no form a mail or web server knows"
    return f"{host} is written with letters beyond ASCII: its servers know it as {ascii_form}"


def _strings(value: Any, key: str = "") -> list[tuple[str, str]]:
    """(the argument's name, a string) for the strings of the arguments, the first MAX_STRINGS."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [(key, value)]
    while stack and len(found) < MAX_STRINGS:
        name, item = stack.pop()
        if isinstance(item, str):
            found.append((name, item[:2000]))
        elif isinstance(item, dict):
            stack += [(str(k), v) for k, v in reversed(item.items())]
        elif isinstance(item, list):
            stack += [(name, v) for v in reversed(item)]
    return found
