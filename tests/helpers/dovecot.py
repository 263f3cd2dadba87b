"""The tests' IMAP server is the demo's: Debian's dovecot-imapd, unprivileged, on a free loopback port."""

from assist.demo.servers import Dovecot, start_dovecot

__all__ = ["Dovecot", "start_dovecot"]
