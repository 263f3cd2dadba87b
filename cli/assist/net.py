"""Telling this machine from others: what may be reached without `allow_remote`, or spoken to in clear."""

from __future__ import annotations

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK
