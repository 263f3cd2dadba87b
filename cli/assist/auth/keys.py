"""Where the token store's key comes from: $ASSIST_KEY, a key file, the OS keyring, or a passphrase.

A key is 32 random bytes, written as unpadded base64url (43 characters). A passphrase is stretched with
scrypt (salt kept in the store's header).
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

from ..errors import AssistError, ConfigError
from ..fileutil import write_atomic

KEY_FILE = "token.key"
KEYRING_SERVICE = "assist"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


class KeyProblem(AssistError):
    """No key, or a key that cannot be used. Exit 78: it is a configuration matter."""

    exit_code = ConfigError.exit_code


def encode(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def decode(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        raise KeyProblem(f"{where}: not a key (expected 43 characters of base64url)") from None
    if len(key) != 32:
        raise KeyProblem(f"{where}: not a key (expected 32 bytes, got {len(key)})")
    return key


def new_key() -> bytes:
    return os.urandom(32)


def check_private(path: Path, what: str) -> None:
    """Refuse a file that anyone but its owner can read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyProblem(f"{path}: {what} is readable by others (mode {mode:04o}); "
                        f"refusing to use it. Fix with: chmod 600 {path}")


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, atomically (tmp, fsync, rename, fsync folder)."""
    write_atomic(path, data, mode=0o600)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def stretch(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode())


def keyring_get(home: Path) -> bytes | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        text = keyring.get_password(KEYRING_SERVICE, str(home))
    except Exception:  # no usable keyring backend on this machine
        return None
    return decode(text, "the OS keyring") if text else None


def keyring_set(home: Path, key: bytes) -> None:
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, str(home), encode(key))
    except ImportError:
        raise KeyProblem("the OS keyring needs the keyring package: pip install 'assist[keyring]'") from None
    except Exception as exc:
        raise KeyProblem(f"the OS keyring refused the key: {type(exc).__name__}") from None


def raw_key(home: Path) -> bytes | None:
    """A raw key from $ASSIST_KEY, the key file or the keyring, in that order; None when there is none
    (then the store must be opened with a passphrase)."""
    env = os.environ.get("ASSIST_KEY")
    if env:
        return decode(env, "$ASSIST_KEY")
    path = home / KEY_FILE
    if path.exists():
        check_private(path, "the key file")
        return decode(path.read_text(), str(path))
    return keyring_get(home)
