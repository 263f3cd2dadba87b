"""Text in a mail's charset read as mail clients and browsers read it (the WHATWG Encoding Standard).

Labels mail uses that Python's codecs do not know (=?iso-8859-8-i?...?=, windows-874, x-mac-roman) are
registered with `codecs` when this module is imported (by ingest/mail.py): without them a subject or a
body in them became replacement characters. And `decode` reads a label Python knows as the strict
standard the way the web does, as the superset the sender's software wrote: ISO-8859-1 as windows-1252
(Outlook's quotes and dashes), EUC-KR and ks_c_5601-1987 as cp949, GB2312 as GB18030, Shift_JIS as
cp932, Big5 as Big5-HKSCS; and 8-bit bytes in text that declares US-ASCII or no charset as UTF-8 when
they hold UTF-8, else windows-1252 (the web's reading of US-ASCII), not as replacement characters."""

from __future__ import annotations

import codecs
import re

# label (lower case, "-" and " " as "_", as codecs passes it) -> a codec Python has
ALIASES = {
    "iso_8859_6_i": "iso8859_6", "iso_8859_6_e": "iso8859_6",  # Arabic, logical / explicit order
    "iso_8859_8_i": "iso8859_8", "iso_8859_8_e": "iso8859_8",  # Hebrew, the same bytes
    "windows_874": "cp874", "x_windows_949": "cp949", "x_cp1252": "cp1252", "cp_1252": "cp1252",
    "x_sjis": "shift_jis", "x_euc_jp": "euc_jp", "x_gbk": "gbk", "x_x_big5": "big5",
    "x_mac_roman": "mac_roman", "x_mac_cyrillic": "mac_cyrillic",
    "unicode_1_1_utf_8": "utf_8", "x_unicode20utf8": "utf_8",
}


def _search(name: str) -> codecs.CodecInfo | None:
    target = ALIASES.get(name.lower().replace("-", "_").replace(" ", "_"))
    return codecs.lookup(target) if target else None


codecs.register(_search)  # the labels of ALIASES known to codecs.lookup, and so to the email package


# a codec's name (codecs.lookup(label).name) -> the superset the web reads that label as
SUPERSETS = {
    "ascii": "cp1252", "iso8859-1": "cp1252", "iso8859-9": "cp1254", "tis-620": "cp874", "iso8859-11": "cp874",
    "euc_kr": "cp949", "gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932", "big5": "big5hkscs",
}
# a character of two to four bytes in UTF-8: text holding one was written in UTF-8, whatever else it holds
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# the charset label of an encoded word in a header (=?iso-8859-1?Q?...?=, RFC 2047; *language of RFC 2231)
ENCODED_WORD = re.compile(r"=\?([^?*\s]{1,40})(\*[^?\s]{0,40})?\?(?=[bBqQ]\?)")


def _name(label: str) -> str:
    """The name of the codec `label` names; LookupError for a label no codec has, one with a NUL byte too
    (codecs.lookup raises ValueError for that: a hostile mail's charset must not stop its parsing)."""
    try:
        return codecs.lookup(label).name
    except ValueError as error:
        raise LookupError(f"unknown encoding: {label!r}") from error


def codec(label: str | None) -> str:
    """The codec that reads text declared in `label` (None: US-ASCII, mail's default) as mail clients do;
    LookupError for a label no codec has."""
    name = _name(label or "ascii")
    return SUPERSETS.get(name, name)


def decode(data: bytes, label: str | None) -> str:
    """Text bytes declared in `label` (None: no charset declared), as mail clients read them: 8-bit bytes
    in text declared US-ASCII or nothing are UTF-8 when they hold a UTF-8 character; a label no text codec
    has is read as UTF-8; a byte the codec cannot read is a replacement character."""
    try:
        name = _name(label or "ascii")
        if name == "ascii" and UTF8_SEQUENCE.search(data):
            name = "utf-8"
        return data.decode(SUPERSETS.get(name, name), errors="replace")
    except (LookupError, ValueError):  # not a text codec (base64), or one that reads nothing (UnicodeError)
        return data.decode("utf-8", errors="replace")


def relabel_encoded_words(header: str) -> str:
    """A raw header with each encoded word's charset named by the codec `decode` would read it with
    (=?ks_c_5601-1987?B?...?= as =?cp949?B?...?=), so the email package reads headers as text is read."""
    def relabel(found: re.Match[str]) -> str:
        try:
            name = _name(found.group(1))
        except LookupError:
            return found.group(0)
        return f"=?{SUPERSETS[name]}{found.group(2) or ''}?" if name in SUPERSETS else found.group(0)

    return ENCODED_WORD.sub(relabel, header) if "=?" in header else header
