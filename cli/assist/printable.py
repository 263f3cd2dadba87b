"""Text from outside (a mail's subject, an error that quotes it) made safe to show on a terminal: no
escape sequence can move the cursor, retitle the window or hide text, and no bidi override can make
text read in another order than it is stored. And a URL made safe to print or log: without its password,
or, for a URL whose path is its secret (a webhook's), only its site."""

from __future__ import annotations

import unicodedata

# the explicit direction controls (embeddings, overrides, isolates, marks): dropped
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def printable(text: str, keep_lines: bool = False) -> str:
    """`text` with line breaks and tabs as spaces (line breaks kept with keep_lines), other control
    characters as U+FFFD, direction controls removed. Text already printable is returned as it is."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char in BIDI_CONTROLS:
            continue
        category = unicodedata.category(char)
        if keep_lines and char == "\n":
            out.append(char)
        elif char in "\t\n\r\x0b\x0c" or category in ("Zl", "Zp"):
            out.append(" ")
        elif category == "Cc":
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def without_password(url: str) -> str:
    """`url` as it may be printed or logged: a password in it as ***."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{host}").geturl()


def site_of(url: str) -> str:
    """`url` as it may be printed or logged when its path or query may be the secret (a Slack or Discord
    webhook's, a signed link): scheme and host only ("https://hooks.example.com/…")."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "(a URL that cannot be read)"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}{f':{port}' if port else ''}/…"
