"""Real mail servers on loopback for the demo and the tests: Debian's dovecot-imapd, unprivileged, on a
free port, and an aiosmtpd SMTP server that files what it accepts in dovecot's Sent folder, as a mail
provider does.

Built from the facts in the project's dovecot recipe: a self-contained config (no /etc/dovecot), the
whole server running as one uid (nobody when the caller is root, as dovecot refuses mail uid 0), its
own session so that stopping kills the whole process group, and readiness = the `* OK` greeting.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONF = """
base_dir = {d}/run
state_dir = {d}/state
instance_name = assist-test-{port}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 0
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
}}
mail_max_userip_connections = 100
{ssl}
"""


@dataclass
class Dovecot:
    host: str
    port: int
    user: str
    password: str
    maildir: Path
    workdir: Path
    proc: subprocess.Popen
    uid: int
    gid: int
    imaps_port: int = 0
    cafile: str | None = None  # the self-signed certificate, when started with tls=True
    keep: bool = False  # a workdir given by the caller (the demo's mailbox) outlives the server

    def deliver(self, raw: bytes, n: int, arrived: float | None = None) -> None:
        """Drop a message into the Maildir (tmp/, then rename into new/), as a delivery agent does;
        `arrived` (a time) is its arrival date (IMAP's INTERNALDATE), else now."""
        name = f"{time.time_ns()}.{n}.assist-test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        if arrived is not None:
            os.utime(tmp, (arrived, arrived))
        os.rename(tmp, self.maildir / "new" / name)

    def deliver_to(self, folder: str, raw: bytes, arrived: float | None = None) -> None:
        """Drop a message into a Maildir++ subfolder such as ".Sent" (arriving at `arrived`, as deliver)."""
        name = f"{time.time_ns()}.{os.getpid()}.assist-test"
        base = self.maildir / folder
        for sub in ("tmp", "new", "cur"):  # a folder the server has not made yet: made as its user
            if not (base / sub).is_dir():
                (base / sub).mkdir(parents=True)
                for made in (base, base / sub):
                    os.chown(made, self.uid, self.gid)
        tmp = base / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        if arrived is not None:
            os.utime(tmp, (arrived, arrived))
        os.rename(tmp, base / "new" / name)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _die_with_parent_hook() -> Any:
    """A function for the child to run before exec (after its user is set): Linux then sends it SIGKILL
    when the process that started it dies, even by SIGKILL, so no dovecot outlives its demo or test.
    prctl is looked up here, in the parent: the child only calls it (no import, no lock after fork)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG

    return hook


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A fresh self-signed certificate for localhost and 127.0.0.1, valid two days: (cert.pem, key.pem) in
    folder, as a server of the person's own has (the tests' TLS servers)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def start_dovecot(timeout: float = 15, tls: bool = False, login: str = "testuser", password: str = "secret",
                  workdir: Path | None = None, extra_conf: str = "") -> Dovecot:
    """tls=True: also IMAPS on imaps_port and STARTTLS on port, with a fresh self-signed certificate.
    extra_conf: more of dovecot.conf (a namespace with special-use folders, say)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(binary):
        raise RuntimeError("dovecot is not installed: scripts/test installs it (apt-get install dovecot-imapd)")
    root = os.getuid() == 0
    uid, gid = (65534, 65534) if root else (os.getuid(), os.getgid())
    import grp
    import pwd

    user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
    fresh = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="dc-", dir="/tmp"))  # short, and traversable by nobody
    port = _free_port()
    imaps_port, ssl, cafile = 0, "ssl = no", None
    if tls:
        imaps_port = _free_port()
        self_signed(workdir)
        ssl = f"ssl = yes\nssl_cert = <{workdir}/cert.pem\nssl_key = <{workdir}/key.pem"
        cafile = str(workdir / "cert.pem")
    maildir = workdir / "home" / login / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (workdir / "state").mkdir(exist_ok=True)
    (workdir / "users").write_text(f"{login}:{{PLAIN}}{password}\n")
    conf = workdir / "dovecot.conf"
    conf.write_text(CONF.format(d=workdir, port=port, user=user, group=group, uid=uid, gid=gid,
                                imaps_port=imaps_port, ssl=ssl) + extra_conf)
    if root:
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, uid, gid)
    kwargs: dict[str, Any] = {"user": uid, "group": gid, "extra_groups": []} if root else {}
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "stderr", "wb"),  # noqa: SIM115
                            start_new_session=True, preexec_fn=_die_with_parent_hook(), **kwargs)
    server = Dovecot("127.0.0.1", port, login, password, maildir, workdir, proc, uid, gid, imaps_port, cafile,
                     keep=not fresh)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited {proc.returncode}: {(workdir / 'stderr').read_text()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return server
        except OSError:
            pass
        time.sleep(0.02)
    server.stop()
    raise RuntimeError("dovecot did not greet in time")


class SentFolder:
    """An aiosmtpd handler that files every accepted message in the dovecot Maildir's .Sent folder before
    it answers 250, as mail providers do; the folder is there from the start, as a provider's is (a send
    cut short before the first one went out is then looked for, and not found, in an empty Sent)."""

    def __init__(self, server: Dovecot):
        from collections import Counter

        self.server = server
        self.received: Counter[str] = Counter()  # by Message-ID
        self.sent = server.maildir / ".Sent"
        for sub in ("cur", "new", "tmp"):
            (self.sent / sub).mkdir(parents=True, exist_ok=True)
            os.chown(self.sent / sub, server.uid, server.gid)
        os.chown(self.sent, server.uid, server.gid)

    async def handle_DATA(self, srv: object, session: object, envelope: object) -> str:
        from email import message_from_bytes
        from email.policy import default as email_policy

        msg = message_from_bytes(envelope.content, policy=email_policy)  # type: ignore[attr-defined]
        self.received[str(msg["Message-ID"])] += 1
        self.server.deliver_to(".Sent", envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


def start_smtp(server: Dovecot) -> object:
    """An aiosmtpd server on a free loopback port (the returned Controller has .port and .stop())."""
    from aiosmtpd.controller import Controller

    controller = Controller(SentFolder(server), hostname="127.0.0.1", port=_free_port())
    controller.start()
    return controller
