"""A real IMAP server for tests: Debian's dovecot-imapd, unprivileged, on a free loopback port.

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
    port = 0
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
ssl = no
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

    def deliver(self, raw: bytes, n: int) -> None:
        """Drop a message into the Maildir (tmp/, then rename into new/), as a delivery agent does."""
        name = f"{time.time_ns()}.{n}.assist-test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, self.maildir / "new" / name)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_dovecot(timeout: float = 15) -> Dovecot:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(binary):
        raise RuntimeError("dovecot is not installed: scripts/test installs it (apt-get install dovecot-imapd)")
    root = os.getuid() == 0
    uid, gid = (65534, 65534) if root else (os.getuid(), os.getgid())
    import grp
    import pwd

    user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
    workdir = Path(tempfile.mkdtemp(prefix="dc-", dir="/tmp"))  # short, and traversable by nobody
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    maildir = workdir / "home" / "testuser" / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (workdir / "state").mkdir()
    (workdir / "users").write_text("testuser:{PLAIN}secret\n")
    conf = workdir / "dovecot.conf"
    conf.write_text(CONF.format(d=workdir, port=port, user=user, group=group, uid=uid, gid=gid))
    if root:
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, uid, gid)
    kwargs = {"user": uid, "group": gid, "extra_groups": []} if root else {}
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "stderr", "wb"),  # noqa: SIM115
                            start_new_session=True, **kwargs)
    server = Dovecot("127.0.0.1", port, "testuser", "secret", maildir, workdir, proc, uid, gid)
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
