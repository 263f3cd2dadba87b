"""Mail servers, as every part of assist meets them: connecting to an IMAP account (ingestion, the mail
actions) and sending a message over SMTP (the mail actions, alerts).

A password is sent in clear only to this machine (`security = "plain"` elsewhere is refused); a server
out of reach is Unavailable (IMAP) or TemporaryError (SMTP), a refusal is a MailError, each in one line.
An account whose secret is an OAuth2 token of the token store (auth/oauth.py AccessToken: Outlook.com,
Microsoft 365, Gmail without an app password) signs in with SASL XOAUTH2, the access token refreshed
before it expires.
"""

from __future__ import annotations

import contextlib
import imaplib
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, TypeGuard

from .errors import AssistError, ConfigError, OutcomeUnknown, TemporaryError, Unavailable, UsageError
from .net import is_loopback, untrusted

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .auth.oauth import AccessToken
    from .config import Config


class MailError(AssistError):
    """The server refused (a login, a recipient, a message): trying again will not help."""


class SignInRefused(MailError):
    """The server refused the sign-in: a wrong password, or a kind of password the provider takes no more
    (`assist init` says which kinds the big ones want)."""


@dataclass
class ImapAccount:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    security: str = "tls"  # tls, starttls or plain (plain only to this machine)
    cafile: str | None = None
    # the secret of a token-store entry or of password_env, read at each sign-in (an OAuth2 access token
    # lasts an hour; `ingest imap --idle` signs in again after days); `password` is then not used
    renew: Callable[[], str | None] | None = field(default=None, repr=False)
    # its section of the config ([actions.imap] or [actions.imap.accounts.NAME]: sent, drafts, from)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    label: str = ""  # the NAME of [actions.imap.accounts.NAME]; "" for [actions.imap]

    def secret(self) -> str:
        return (self.renew() or "") if self.renew is not None else self.password

    @property
    def address(self) -> str:
        """Which account this is: user@host:port (noted with each mail read from it, data.imap.account)."""
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def name(self) -> str:
        """The name of its ingestion state. A configured other account's has its port too: two of them with
        one user on one host are two accounts, whose UIDs must not be mixed (the older name, kept for the
        accounts read before, has none)."""
        from .ingest.events import safe_name

        return safe_name(f"{self.user}@{self.host}{f':{self.port}' if self.label else ''}-{self.folder}")

    @property
    def section(self) -> str:
        """Where it is configured, as a person reads it in assist.toml."""
        return f"[actions.imap.accounts.{self.label}]" if self.label else "[actions.imap]"

    def reads(self, noted: str) -> bool:
        """Whether a mail noted as read from `noted` (data.imap.account, user@host:port) was read from this
        account: the same user (a host has other names: "localhost" for "127.0.0.1")."""
        if not self.user:  # no user to tell it by: the address it was read at
            return noted.casefold() == self.address.casefold()
        return noted.rsplit("@", 1)[0].casefold() == self.user.casefold()


def imap_port(security: str) -> int:
    """IMAP's port for a security: 993 over TLS, else 143 (STARTTLS, or plain on this machine)."""
    return 993 if security == "tls" else 143


def configured_account(config: Config, folder: str = "INBOX", name: str = "") -> ImapAccount:
    """The account of [actions.imap] (what `assist init` writes), or of [actions.imap.accounts.NAME] (another
    account of the person's), with its secret from the token store or the environment; UsageError when
    none is configured."""
    from functools import partial

    from .auth.secrets import section_secret

    section = config.action_section("imap")
    if name:
        others = section.get("accounts") or {}
        if name not in others:
            known = ", ".join(sorted(others)) or "none"
            raise UsageError(f"no account {name!r} in [actions.imap.accounts] (configured: {known})")
        section = others[name]
    if not section.get("host"):
        raise UsageError("no IMAP account: give --host and --user, or configure [actions.imap] (`assist init`)")
    security = section.get("security", "tls")
    # read at each sign-in: a token-store entry, or a variable that may not be set (ConfigError then: that
    # account is not read, the others are)
    renew = partial(section_secret, section, config.home) if section.get("token") or section.get("password_env") \
        else None
    return ImapAccount(section["host"], section.get("port", imap_port(security)),
                       section.get("username", ""), "",
                       folder, security, section.get("cafile"), renew,
                       {k: v for k, v in section.items() if k != "accounts"}, name)


def configured_accounts(config: Config) -> list[ImapAccount]:
    """Every account the person configured: [actions.imap] first, then each [actions.imap.accounts.NAME];
    none when [actions.imap] has no host."""
    if not config.action_section("imap").get("host"):
        return []
    names = sorted(config.action_section("imap").get("accounts") or {})
    return [configured_account(config, name=name) for name in ["", *names]]


def accounts_to_read(config: Config, name: str | None, folder: str | None, what: str) -> list[ImapAccount]:
    """The accounts a command reads `what` (a folder of each) in: the one named (--account NAME; "" for
    [actions.imap]'s), else every account configured. A folder given by name (--folder) is one account's:
    with several configured, --account must say which. UsageError when none is configured."""
    if not config.action_section("imap").get("host"):
        raise UsageError(f"no IMAP account to read {what} from: configure [actions.imap] (`assist init`)")
    if name is not None:
        return [configured_account(config, name=name)]
    accounts = configured_accounts(config)
    if folder is not None and len(accounts) > 1:
        raise UsageError(f"--folder names {what} of one account, and {len(accounts)} are configured: give "
                         "--account NAME too (--account '' for [actions.imap]'s)")
    return accounts


def account_of(config: Config, noted: object) -> ImapAccount:
    """The configured account a mail was read from (`noted`: its data.imap.account, user@host:port), told by
    the user who signs in, and by host and port when two accounts have that user; [actions.imap]'s for
    mail read from no account noted (a maildir, a mail ingested before accounts were noted). The note is
    the task's, so it can only choose among the person's own accounts; MailError when it names none of
    them, or several."""
    accounts = configured_accounts(config)
    if not accounts:
        raise UsageError("no IMAP account: configure [actions.imap] (`assist init`)")
    if not isinstance(noted, str):
        return accounts[0]
    same = [each for each in accounts if each.reads(noted)]
    exact = [each for each in same if noted.casefold() == each.address.casefold()]
    if len(same) == 1 or len(exact) == 1:
        return same[0] if len(same) == 1 else exact[0]
    from .printable import printable

    mine = ", ".join(each.address for each in accounts)
    why = "cannot be told apart among" if same else "is none of"
    raise MailError(f"this mail was read from {printable(noted[:200])}, which {why} the accounts configured ({mine}: "
                    "[actions.imap] and [actions.imap.accounts.NAME])")


def imap_connect(account: ImapAccount, timeout_s: float = 30) -> imaplib.IMAP4:
    if account.security == "plain" and not is_loopback(account.host):
        raise ConfigError([f"imap {account.host}: a password is only sent unencrypted to this machine; "
                           "use --tls or --starttls"])
    password = account.secret()  # before connecting: a token that cannot be had is no connection to close
    context = ssl.create_default_context(cafile=account.cafile)
    try:
        if account.security == "tls":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(account.host, account.port, ssl_context=context,
                                                     timeout=timeout_s)
        else:
            conn = imaplib.IMAP4(account.host, account.port, timeout=timeout_s)
            if account.security == "starttls":
                _starttls(conn, account, context)
        if _is_access_token(password):
            _sign_in_with_token(conn, account.user, password)
        elif (account.user + password).isascii():
            conn.login(account.user, password)
        else:  # LOGIN is ASCII only in imaplib; PLAIN is UTF-8 (RFC 4616)
            conn.authenticate("PLAIN", lambda _: _plain(account.user, password))
    except ssl.SSLCertVerificationError as exc:
        raise Unavailable(f"imap {account.host}:{account.port}: {_untrusted(exc)}") from None
    except (TimeoutError, OSError) as exc:
        raise Unavailable(f"imap {account.host}:{account.port}: cannot connect ({exc})") from None
    except imaplib.IMAP4.error as exc:
        raise SignInRefused(f"imap {account.host}: login as {account.user} refused ({_short(exc)})") from None
    return conn


def _untrusted(exc: ssl.SSLCertVerificationError) -> str:
    return untrusted(exc.verify_message, "--cafile FILE (cafile in [actions.imap] or [actions.smtp])")


def _starttls(conn: imaplib.IMAP4, account: ImapAccount, context: ssl.SSLContext) -> None:
    """STARTTLS, or Unavailable when the server offers none: it has none, or something on the way took it
    out of the server's answer to read the password. Nothing is sent in the clear either way."""
    if "STARTTLS" not in conn.capabilities:
        conn.shutdown()
        raise Unavailable(f"imap {account.host}:{account.port}: the server offers no STARTTLS (or something on "
                          "the way removed it); nothing was sent. Choose --tls (port 993), or --plain for a server "
                          "on this machine")
    conn.starttls(ssl_context=context)


@contextlib.contextmanager
def imap_reading(account: ImapAccount, what: str) -> Iterator[imaplib.IMAP4]:
    """A logged-in connection for reading `what` (a folder, said in the error); an IMAP error while
    reading is one line, and the connection is closed in any case."""
    conn = imap_connect(account)
    try:
        yield conn
    except imaplib.IMAP4.error as exc:
        raise AssistError(f"imap {account.host}: reading {what} failed ({exc})") from None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()


def capabilities(conn: imaplib.IMAP4) -> set[str]:
    """What the server says it can do, asked now: its list grows once signed in (dovecot's before sign-in
    names no MOVE), and imaplib keeps the one from before."""
    status, data = conn.capability()
    said = data[-1] if status == "OK" and data and isinstance(data[-1], bytes) else b""
    return set(said.decode(errors="replace").upper().split())


def imap_quote(text: str) -> str:
    """A folder name (or search term) as an IMAP quoted string; a line break or NUL, which would end the
    command line, is refused."""
    if any(c in text for c in "\r\n\0"):
        raise UsageError(f"{text[:60]!r}: a line break or NUL cannot go to an IMAP server")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_day(moment: float) -> str:
    """A day as IMAP's SEARCH SINCE and BEFORE take it ("7-Dec-2026"), of a time, in UTC."""
    import time

    return time.strftime("%d-%b-%Y", time.gmtime(max(moment, 0)))


def arrivals(conn: Any, uids: list[bytes]) -> dict[bytes, float]:
    """{UID: when it arrived (INTERNALDATE, a time)} of the selected folder's `uids`, asked for in batches;
    a UID the server does not answer for is left out."""
    import re
    import time

    arrived: dict[bytes, float] = {}
    for start in range(0, len(uids), 500):
        status, lines = conn.uid("FETCH", b",".join(uids[start:start + 500]).decode(), "(INTERNALDATE)")
        for line in lines if status == "OK" else []:
            line = line[0] if isinstance(line, tuple) else line
            uid = re.search(rb"UID (\d+)", line) if isinstance(line, bytes) else None
            when = imaplib.Internaldate2tuple(line) if uid else None
            if uid and when:
                arrived[uid.group(1)] = time.mktime(when)
    return arrived


def imap_folder(name: str) -> str:
    """A folder name as IMAP names folders, quoted: what is not printable ASCII in modified UTF-7 (RFC 3501
    5.1.3: "Entwürfe" is Entw&APw-rfe, "&" is &-), since imaplib sends commands as ASCII. A line break or
    NUL is left as it is, for imap_quote to refuse."""
    import base64
    import re

    def encoded(run: re.Match[str]) -> str:
        return "&" + base64.b64encode(run.group().encode("utf-16-be")).decode().rstrip("=").replace("/", ",") + "-"

    return imap_quote(re.sub(r"[^ -~\r\n\0]+", encoded, name.replace("&", "&-")))


def folder_name(listed: str) -> str:
    """A folder's name as a server lists it (modified UTF-7) as a person reads it: the inverse of
    imap_folder's encoding. A run that does not decode is kept as it came."""
    import base64
    import binascii
    import re

    def decoded(run: re.Match[str]) -> str:
        if not run.group(1):
            return "&"
        data = run.group(1).replace(",", "/")
        try:
            return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be")
        except (binascii.Error, UnicodeDecodeError):
            return run.group()

    return re.sub(r"&([A-Za-z0-9+,]*)-", decoded, listed)


def _short(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


# The names a route or [actions.imap] gives a folder of a special use (RFC 6154), in any case: where the
# server has no folder of that name, the one it marks with that use is meant (Gmail's "[Gmail]/Spam" for
# "Junk", a French Outlook's "Brouillons" for "Drafts")
SPECIAL_USES = {"junk": "Junk", "spam": "Junk", "drafts": "Drafts", "sent": "Sent", "trash": "Trash",
                "archive": "Archive"}


# A server that marks no folder's use (RFC 6154 is an extension: Exchange's IMAP, older Courier and
# hosting set-ups) names them as mail clients have: the names Thunderbird and Outlook give them, in
# English, then as a German, French, Spanish, Italian, Portuguese, Dutch, Swedish, Danish or Russian
# Outlook or Thunderbird does (Exchange's own names per language as exchangelib's folders list them).
# None is another use's name in another language ("Lixo" alone is Thunderbird's Portuguese Trash)
USUAL_NAMES = {"Junk": ("Junk", "Spam", "Junk Email", "Junk E-mail", "Bulk Mail", "Junk-E-Mail",
                        "Courrier indésirable", "Courrier indésirables", "Indésirables", "Correo no deseado",
                        "Posta indesiderata", "Lixo Eletrônico", "Lixo Eletrónico", "Ongewenste e-mail",
                        "Skräppost", "Uønsket e-mail", "Нежелательная почта"),
               "Drafts": ("Drafts", "Draft", "Entwürfe", "Brouillons", "Borradores", "Bozze", "Rascunhos",
                          "Concepten", "Utkast", "Kladder", "Черновики"),
               "Sent": ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendete Elemente", "Gesendet",
                        "Éléments envoyés", "Envoyés", "Elementos enviados", "Enviados", "Posta inviata",
                        "Elementi inviati", "Inviata", "Itens Enviados", "Verzonden items", "Skickat",
                        "Sendt post", "Отправленные"),
               "Trash": ("Trash", "Deleted Items", "Deleted Messages", "Gelöschte Elemente", "Papierkorb",
                         "Éléments supprimés", "Corbeille", "Elementos eliminados", "Papelera", "Posta eliminata",
                         "Elementi eliminati", "Cestino", "Itens Excluídos", "Itens Eliminados", "Lixeira",
                         "Verwijderde items", "Prullenbak", "Borttaget", "Papperskorgen", "Slettet post",
                         "Papirkurv", "Удаленные", "Корзина"),
               "Archive": ("Archive", "Archives", "Archiv", "Archivio", "Arquivo", "Archief", "Arkiv", "Архив")}


def folder_on_server(conn: Any, named: str, use: str | None = None) -> str | None:
    """`named` when the server has a folder of that name, or has it under the person's namespace
    ("INBOX.Lists": folder_to_make); else the folder it marks with `use` (by default the special use the
    name is well known for: SPECIAL_USES); else, when it marks none and `named` is assist's own name for
    the use ("Junk" of the shipped spam route, "Sent" and "Drafts" of `assist init`), one of the usual
    names for that use (USUAL_NAMES, at the top or under the namespace): a name the person chose is
    theirs, and a folder of another name is not taken for it (a send cut short is looked for there);
    else None."""
    if folder_exists(conn, named):
        return named
    under = folder_to_make(conn, named)
    if under != named and folder_exists(conn, under):
        return under
    use = use or SPECIAL_USES.get(named.strip().lower())
    if not use:
        return None
    listing = _listing(conn, '"*"')
    marked = _marked(listing, use)
    if marked is not None or named.strip().lower() != use.lower():
        return marked
    prefix = under[:len(under) - len(named)]  # the namespace's ("INBOX."), or ""
    listed = {name.lower(): name for _, name in listing}
    return next((listed[form.lower()] for usual in USUAL_NAMES.get(use, ()) for form in (usual, prefix + usual)
                 if form.lower() in listed), None)


# Proton Mail Bridge shows a person's folders under "Folders/" and labels under "Labels/", two \Noselect
# folders, and makes no folder at the top (its imapservice/connector.go): its folders are made under "Folders/"
BRIDGE_FOLDERS = ("Folders/", "Labels/")


def folder_to_make(conn: Any, named: str) -> str:
    """Where a folder of this name is made: under the person's namespace when the server keeps their
    folders under one (Courier and Cyrus: "INBOX.", NAMESPACE of RFC 2342) and refuses others; under
    "Folders/" on Proton Mail Bridge (BRIDGE_FOLDERS)."""
    import re

    if named.upper() == "INBOX":
        return named
    try:
        status, data = conn.namespace()
    except imaplib.IMAP4.error:  # a server without NAMESPACE
        status, data = "NO", []
    personal = re.match(rb'\(\("((?:[^"\\]|\\.)*)"', data[0] or b"") if status == "OK" and data else None
    prefix = folder_name(personal.group(1).decode("utf-8", "replace")) if personal else ""
    if not prefix and _bridge(conn):
        return named if named.startswith(BRIDGE_FOLDERS) else BRIDGE_FOLDERS[0] + named
    return named if not prefix or named.upper().startswith(prefix.upper()) else prefix + named


def _bridge(conn: Any) -> bool:
    """Whether the server shows folders as Proton Mail Bridge does: "Folders" and "Labels" at the top, each
    \\Noselect."""
    tops = {name: flags for flags, name in _listing(conn, '"%"')}
    return all(b"\\noselect" in tops.get(top[:-1], []) for top in BRIDGE_FOLDERS)


def folder_exists(conn: Any, name: str) -> bool:
    """Whether the server has a folder of exactly this name (a "*" or "%" in it is a wildcard to LIST,
    not a match; INBOX in any case is INBOX)."""
    return any(listed == name or listed.upper() == name.upper() == "INBOX"
               for _, listed in _listing(conn, imap_folder(name)))


def marked_folder(conn: Any, use: str) -> str | None:
    """The folder the server marks with this special use (RFC 6154: "All" is Gmail's "[Gmail]/All Mail"),
    or None."""
    return _marked(_listing(conn, '"*"'), use)


def _marked(listing: list[tuple[list[bytes], str]], use: str) -> str | None:
    flag = b"\\" + use.lower().encode()
    return next((name for flags, name in listing if flag in flags), None)


def _listing(conn: Any, pattern: str) -> list[tuple[list[bytes], str]]:
    """(flags in lower case, name as imap_folder sends it again) of each folder a LIST finds."""
    import re

    status, lines = conn.list('""', pattern)
    out = []
    for line in lines if status == "OK" else []:
        found = re.match(rb'\(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.+)$', line) if isinstance(line, bytes) else None
        if found:
            name = found.group(2).strip()
            if name.startswith(b'"') and name.endswith(b'"'):
                name = re.sub(rb'\\(.)', rb"\1", name[1:-1])
            out.append((found.group(1).lower().split(), folder_name(name.decode("utf-8", "replace"))))
    return out


def _is_access_token(secret: str) -> TypeGuard[AccessToken]:
    from .auth.oauth import AccessToken

    return isinstance(secret, AccessToken)


def _sign_in_with_token(conn: imaplib.IMAP4, user: str, token: AccessToken) -> None:
    """XOAUTH2 with an access token; refused (the provider dropped it before its time), once more with a
    new one from the token endpoint."""
    try:
        conn.authenticate("XOAUTH2", lambda _: _xoauth2(user, token))
    except imaplib.IMAP4.error:
        fresh = token.renewed()
        conn.authenticate("XOAUTH2", lambda _: _xoauth2(user, fresh))


def _xoauth2(user: str, token: str) -> bytes:
    """The SASL XOAUTH2 message of a sign-in with an OAuth2 access token (Google's and Microsoft's)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def _plain(user: str, password: str) -> bytes:
    """The SASL PLAIN message of a login (RFC 4616): UTF-8, so a password beyond ASCII goes as it is."""
    return b"\0" + user.encode() + b"\0" + password.encode()


def _smtp_login(server: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login, which sends ASCII only; beyond it, AUTH PLAIN in UTF-8; with an OAuth2 access
    token, AUTH XOAUTH2, once more with a new token when the provider dropped this one before its time."""
    if not _is_access_token(password) and (user + password).isascii():
        server.login(user, password)
        return
    server.ehlo_or_helo_if_needed()
    if _is_access_token(password):
        code, answer = _smtp_auth(server, "XOAUTH2", _xoauth2(user, password))
        if code != 235:
            code, answer = _smtp_auth(server, "XOAUTH2", _xoauth2(user, password.renewed()))
    else:
        code, answer = _smtp_auth(server, "PLAIN", _plain(user, password))
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


def _smtp_auth(server: smtplib.SMTP, mechanism: str, message: bytes) -> tuple[int, bytes]:
    """One AUTH with its initial response; a refusal that comes as a 334 challenge (XOAUTH2 says why
    there) is answered empty for the final code."""
    import base64

    code, answer = server.docmd("AUTH", f"{mechanism} {base64.b64encode(message).decode()}")
    return server.docmd("") if code == 334 else (code, answer)


def _ascii_domains(msg: EmailMessage) -> None:
    """For a server that takes no address beyond ASCII (no SMTPUTF8): an ASCII mailbox at a domain beyond
    it ("joerg@bücher.de") with the domain as the DNS has it (IDNA: "xn--bcher-kva.de"), in the headers
    the envelope is made of. A mailbox beyond ASCII stays as it is (smtplib refuses it, and the send fails
    saying so)."""
    from email.headerregistry import Address

    def ascii_domain(address: Address) -> Address:
        if address.username.isascii() and not address.domain.isascii():
            try:
                return Address(address.display_name, address.username, address.domain.encode("idna").decode())
            except UnicodeError:  # not a name the DNS could have
                pass
        return address

    for name in ("From", "To", "Cc", "Bcc"):
        addresses = list(getattr(msg[name], "addresses", None) or [])
        written = [ascii_domain(a) for a in addresses]
        if written != addresses:
            del msg[name]
            msg[name] = written


def smtp_send(msg: EmailMessage, section: dict[str, Any], password: str | None,
              taken: Callable[[], None] = lambda: None) -> None:
    """Send a message through the SMTP server of a config section ([actions.smtp]: host, port, security,
    username, cafile); `taken` is called as soon as the server has answered that it took it, before the
    goodbye (which may be slow)."""
    with _smtp_session(section, password) as (server, host, port):
        if not server.has_extn("smtputf8"):
            _ascii_domains(msg)
        try:
            server.send_message(msg)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException):
            raise  # the server said no: it was not sent
        except smtplib.SMTPNotSupportedError:  # found before a word of the mail went: not sent
            raise MailError(f"email: {host} does not take addresses beyond ASCII (no SMTPUTF8, RFC 6531); "
                            "not sent") from None
        except OSError as exc:  # the connection went (SMTPServerDisconnected too): it may have been taken
            raise OutcomeUnknown(f"email: the connection to {host}:{port} was lost while sending "
                                 f"({type(exc).__name__}): it may have gone out") from None
        taken()


def smtp_sign_in(section: dict[str, Any], password: str | None) -> tuple[int, bool]:
    """Connect to the SMTP server of a config section and sign in, sending nothing (`assist init`): (its
    port, whether it asked for a sign-in: a relay on this machine or the network may take mail without
    one). The same one-line errors as smtp_send."""
    with _smtp_session(section, password) as (server, _, port):
        return port, server.has_extn("auth")


@contextlib.contextmanager
def _smtp_session(section: dict[str, Any], password: str | None) -> Iterator[tuple[smtplib.SMTP, str, int]]:
    """(a connection to the SMTP server of a config section, greeted, encrypted as the section says and
    signed in when the server asks for a sign-in, its host, its port); what goes wrong, in it or in what
    is done with it, is one line: MailError when the server said no, TemporaryError when it could not be
    reached or said try later."""
    host = section.get("host")
    if not host:
        raise MailError("email: no SMTP server is configured ([actions.smtp] host)")
    security = section.get("security", "starttls")
    port = section.get("port", 465 if security == "tls" else 587)
    if security == "plain" and not is_loopback(host) and section.get("username"):
        raise MailError(f"email: a password is only sent unencrypted to this machine, not to {host}")
    context = ssl.create_default_context(cafile=section.get("cafile"))
    try:
        if security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=30)
            if security == "starttls":
                server.ehlo_or_helo_if_needed()
                if not server.has_extn("starttls"):
                    server.close()
                    raise MailError(f"email: {host}:{port} offers no STARTTLS (or something on the way removed "
                                    "it): not sent. Set [actions.smtp] security = \"tls\" (port 465), or \"plain\" "
                                    "for a server on this machine")
                server.starttls(context=context)
        try:
            server.ehlo_or_helo_if_needed()
            if section.get("username") and server.has_extn("auth"):  # a relay that takes mail without: none
                _smtp_login(server, section["username"], password or "")
            yield server, host, port
        finally:
            with contextlib.suppress(OSError):  # sent or not, how the goodbye goes changes nothing
                server.quit()
            server.close()
    except smtplib.SMTPAuthenticationError as exc:
        raise SignInRefused(f"email: the SMTP server refused the login ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"email: recipients refused: {', '.join(exc.recipients)}") from None
    except ssl.SSLCertVerificationError as exc:
        raise MailError(f"email: {host}:{port}: {_untrusted(exc)}") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
        raise TemporaryError(f"email: cannot reach {host}:{port} ({type(exc).__name__})") from None
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise TemporaryError(f"email: the SMTP server said try later ({exc.smtp_code})") from None
        raise MailError(f"email: the SMTP server refused the message ({exc.smtp_code})") from None
