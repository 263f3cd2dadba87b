"""The encrypted token store: $ASSIST_HOME/tokens.enc.

Layout (all of the header is authenticated as AES-GCM associated data):

    b"assist-tokens\\n"  version (1 byte)  kdf (1 byte: 0 raw key, 1 scrypt)  salt (16)
    key check (8: HMAC-SHA256(key, "assist-tokens key check")[:8])  nonce (12)  ciphertext + tag

The plaintext is JSON: {"entries": {name: entry}, "jwt_key": base64url}. Every write uses a new random
nonce and replaces the file atomically under a file lock, with mode 0600. A store or key file that others
can read is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import AssistError, ConfigError, NotFound
from ..timeutil import rfc3339
from . import keys

STORE_FILE = "tokens.enc"
MAGIC = b"assist-tokens\n"
VERSION = 1
KDF_RAW, KDF_SCRYPT = 0, 1
HEADER_LEN = len(MAGIC) + 1 + 1 + 16 + 8 + 12

KINDS: dict[str, dict[str, tuple[str, ...]]] = {
    # kind: {"secret": fields that are secret, "plain": fields shown by ls/show}
    "bearer": {"secret": ("token",), "plain": ()},
    "api_key": {"secret": ("key",), "plain": ("header",)},
    "basic": {"secret": ("password",), "plain": ("username",)},
    "password": {"secret": ("password",), "plain": ("username",)},  # SMTP / IMAP accounts
    "oauth2": {"secret": ("access_token", "refresh_token", "client_secret"),
               "plain": ("token_url", "client_id", "scopes")},
}
SECRET_FIELDS = frozenset(f for kind in KINDS.values() for f in kind["secret"])


class StoreError(AssistError):
    """The store cannot be read or written as asked. Exit 78: it is a configuration matter."""

    exit_code = ConfigError.exit_code


def _key_check(key: bytes) -> bytes:
    return hmac.new(key, b"assist-tokens key check", hashlib.sha256).digest()[:8]


def _no_token(name: str) -> str:
    return (f"no token named {name!r} (see `assist token ls`; `assist token set {name}` or `assist token sign-in "
            f"{name}` stores one)")


class TokenStore:
    def __init__(self, home: Path, passphrase: str | None = None):
        self.home = home
        self.path = home / STORE_FILE
        self.passphrase = passphrase if passphrase is not None else os.environ.get("ASSIST_PASSPHRASE")
        self._opened_with: tuple[bytes, int, bytes] = (b"", KDF_RAW, b"")  # key, kdf, salt of the last load

    # -- the file ---------------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def _header(self, kdf: int, salt: bytes, key: bytes, nonce: bytes) -> bytes:
        return MAGIC + bytes([VERSION, kdf]) + salt + _key_check(key) + nonce

    def _read_header(self, blob: bytes) -> tuple[int, int, bytes, bytes, bytes]:
        if not blob.startswith(MAGIC):
            raise StoreError(f"{self.path}: not a token store (or damaged at its start)")
        if len(blob) < HEADER_LEN + 16:
            raise StoreError(f"{self.path}: the file is truncated ({len(blob)} bytes); restore it from a backup")
        at = len(MAGIC)
        version, kdf = blob[at], blob[at + 1]
        if version > VERSION:
            raise StoreError(f"{self.path}: written by a newer assist (store version {version}, this one reads "
                             f"{VERSION}); upgrade assist to read it")
        salt = blob[at + 2: at + 18]
        check = blob[at + 18: at + 26]
        nonce = blob[at + 26: at + 38]
        return version, kdf, salt, check, nonce

    def _key(self, kdf: int, salt: bytes) -> bytes:
        if kdf == KDF_SCRYPT:
            if not self.passphrase:
                raise StoreError(f"{self.path}: is locked with a passphrase: set ASSIST_PASSPHRASE "
                                 "or run the command in a terminal")
            return keys.stretch(self.passphrase, salt)
        key = keys.raw_key(self.home)
        if key is None:
            raise StoreError(f"{self.path}: no key found: set ASSIST_KEY, or keep the key file "
                             f"{self.home / keys.KEY_FILE} (made by `assist token init`)")
        return key

    def load(self) -> dict[str, Any]:
        """Decrypt the store. Every failure is one clear line, and the file is never changed."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not self.path.exists():
            raise StoreError(f"{self.path}: no token store yet; create one with `assist token init`")
        keys.check_private(self.path, "the token store")
        blob = self.path.read_bytes()
        _version, kdf, salt, check, nonce = self._read_header(blob)
        key = self._key(kdf, salt)
        if not hmac.compare_digest(_key_check(key), check):
            key = self._finish_rotation(check) or key
            if not hmac.compare_digest(_key_check(key), check):
                what = "passphrase" if kdf == KDF_SCRYPT else "key"
                raise StoreError(f"{self.path}: wrong {what}: it is not the one the store was locked with")
        try:
            plain = AESGCM(key).decrypt(nonce, blob[HEADER_LEN:], blob[:HEADER_LEN])
        except InvalidTag:
            raise StoreError(f"{self.path}: the file was damaged or tampered with (authentication failed); "
                             "restore it from a backup") from None
        import orjson

        self._opened_with = (key, kdf, salt)
        return orjson.loads(plain)

    def _finish_rotation(self, check: bytes) -> bytes | None:
        """A key rotation that stopped between writing the store and renaming the new key file."""
        pending = self.home / f"{keys.KEY_FILE}.new"
        if not pending.exists():
            return None
        keys.check_private(pending, "the new key file")
        key = keys.decode(pending.read_text(), str(pending))
        if hmac.compare_digest(_key_check(key), check):
            os.replace(pending, self.home / keys.KEY_FILE)
            return key
        return None

    def _save(self, data: dict[str, Any], key: bytes, kdf: int, salt: bytes) -> None:
        import orjson
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        header = self._header(kdf, salt, key, nonce)
        blob = header + AESGCM(key).encrypt(nonce, orjson.dumps(data), header)
        keys.write_private(self.path, blob)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Read, let the caller change, and write back the store, all under its file lock."""
        from filelock import FileLock

        with FileLock(str(self.path) + ".lock", is_singleton=False):
            data = self.load()
            yield data
            self._save(data, *self._opened_with)

    # -- creating and re-keying ---------------------------------------------------------------------------

    def init(self, where: str) -> str:
        """Create an empty store and its key. where: file, keyring, passphrase or env. Returns a note
        saying where the key is."""
        if self.path.exists():
            raise StoreError(f"{self.path}: a token store exists already (use `assist token rotate-key` "
                             "to change its key)")
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        key, kdf, salt, note = self._make_key(where)
        self._save({"entries": {}, "jwt_key": keys.encode(keys.new_key())}, key, kdf, salt)
        return note

    def _make_key(self, where: str, pending: bool = False) -> tuple[bytes, int, bytes, str]:
        salt = bytes(16)
        if where == "passphrase":
            if not self.passphrase:
                raise StoreError("a passphrase is needed: set ASSIST_PASSPHRASE or run in a terminal")
            salt = os.urandom(16)
            return keys.stretch(self.passphrase, salt), KDF_SCRYPT, salt, "locked with your passphrase"
        if where == "env":
            key = keys.raw_key(self.home)
            if not os.environ.get("ASSIST_KEY") or key is None:
                raise StoreError("ASSIST_KEY is not set")
            return key, KDF_RAW, salt, "locked with the key in $ASSIST_KEY"
        key = keys.new_key()
        if where == "keyring":
            keys.keyring_set(self.home, key)
            return key, KDF_RAW, salt, "key kept in the OS keyring"
        path = self.home / (f"{keys.KEY_FILE}.new" if pending else keys.KEY_FILE)
        keys.write_private(path, (keys.encode(key) + "\n").encode())
        return key, KDF_RAW, salt, f"key file {self.home / keys.KEY_FILE} (mode 0600): back it up"

    def rotate_key(self, where: str, new_passphrase: str | None = None) -> str:
        """Re-encrypt the store under a new key. A crash at any point leaves a store that opens."""
        from filelock import FileLock

        with FileLock(str(self.path) + ".lock", is_singleton=False):
            data = self.load()
            if where == "passphrase":
                self.passphrase = new_passphrase or self.passphrase
            key, kdf, salt, note = self._make_key(where, pending=(where == "file"))
            self._save(data, key, kdf, salt)
            if where == "file":
                os.replace(self.home / f"{keys.KEY_FILE}.new", self.home / keys.KEY_FILE)
            elif (self.home / keys.KEY_FILE).exists():
                os.unlink(self.home / keys.KEY_FILE)  # the old key must not linger
            return note

    # -- entries ------------------------------------------------------------------------------------------

    def names(self) -> list[dict[str, Any]]:
        """Every entry without its secret values: name, kind, plain fields, expires_at, updated_at."""
        return [public(name, entry) for name, entry in sorted(self.load()["entries"].items())]

    def get(self, name: str) -> dict[str, Any]:
        entries = self.load()["entries"]
        if name not in entries:
            raise NotFound(_no_token(name))
        return entries[name]

    def set(self, name: str, entry: dict[str, Any]) -> None:
        validate(name, entry)
        entry["updated_at"] = rfc3339()
        with self.transaction() as data:
            data["entries"][name] = entry

    def update(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self.transaction() as data:
            if name not in data["entries"]:
                raise NotFound(_no_token(name))
            entry = data["entries"][name]
            entry.update(changes)
            entry["updated_at"] = rfc3339()
            return dict(entry)

    def remove(self, name: str) -> None:
        with self.transaction() as data:
            if data["entries"].pop(name, None) is None:
                raise NotFound(_no_token(name))

    def jwt_key(self) -> bytes:
        return keys.decode(self.load()["jwt_key"], "the store's JWT key")


def validate(name: str, entry: dict[str, Any]) -> None:
    import re

    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", name):
        raise StoreError(f"token name {name!r}: use letters, digits, '.', '_' and '-'")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise StoreError(f"token {name!r}: unknown kind {kind!r} (one of: {', '.join(KINDS)})")
    missing = [f for f in KINDS[kind]["secret"][:1] if not entry.get(f)]
    if kind == "oauth2":
        missing = [f for f in ("refresh_token", "token_url") if not entry.get(f)]
    if missing:
        raise StoreError(f"token {name!r} ({kind}): missing {', '.join(missing)}")


def public(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    out = {"name": name, "kind": entry.get("kind")}
    for field in KINDS.get(entry.get("kind", ""), {"plain": ()})["plain"]:
        if entry.get(field):
            out[field] = entry[field]
    for field in ("expires_at", "updated_at"):
        if entry.get(field):
            out[field] = entry[field]
    out["secrets"] = sorted(f for f in SECRET_FIELDS if entry.get(f))
    return out
