"""Charset labels that mail uses and Python's codecs do not know, read as the web reads them (the WHATWG
Encoding Standard's labels): without them a subject in =?iso-8859-8-i?...?= or a body in windows-874
became replacement characters. Registered when this module is imported (by ingest/mail.py); a label
Python knows is left to Python (ks_c_5601-1987 stays its strict EUC-KR)."""

from __future__ import annotations

import codecs

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
