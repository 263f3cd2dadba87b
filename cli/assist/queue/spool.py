"""The spool: a queue of one file per task on the local disk (docs/queue.md).

    <root>/<queue>/tmp/        being written, never read
                   new/        <priority>-<due ms>-<id>.json: sorted order is service order
                   cur/        <id>@<lease deadline ms>@<pid>@<host>.json: the name is the lease
                   hold/ done/ failed/ cancelled/   <id>.json
                   ids/        <id>: one per task in the queue, a hard link to one empty file (.id0),
                               made before the task is renamed into place, so a second put of the same
                               id is found and skipped (the first is kept)
                   .ids-complete  the tasks held when an assist with ids/ first opened it have markers
                   quarantine/ what was found where a task should be and was not one (see checks.py)

Durability: a put writes the file in tmp/, renames it into new/, then syncs the file before it returns;
on a journaling file system that one sync also makes the rename durable, since the rename changed the
file's inode in the same transaction (see docs/queue.md). A batch shares one syncfs.

A claim is one rename (new/ to cur/): the rename is the lock, one claimant wins. An ack is one rename
(cur/ to done/). Lease renewal is a rename to a later deadline. These renames are not synced: after a power
cut a task may be delivered again, never lost (at-least-once; side effects are deduplicated by the act
journal). Every other change (nack, hold, cancel, approve, retry, reap) rewrites the task under the
queue's file lock: the new content replaces the leased file in place, and one rename moves it on, so a
crash at any point leaves the task in exactly one state.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import select
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import CANTCREAT, STORAGE_ERRNOS, Conflict, LeaseLost, NotFound, StorageError
from ..fileutil import write_atomic
from ..task import routed_by_person
from ..timeutil import now_ms, parse_rfc3339
from .base import STATES, TERMINAL, Backend, Lease, Queue, TaskInfo, checked_id, checked_name, next_attempt
from .checks import InvalidTask, invalid_record, notice, parse_document, read_file
from .settings import QueueSettings

# the name of this machine in lease records: $ASSIST_HOST, else the host name
HOST = "".join(c if c.isalnum() or c == "-" else "-"
               for c in os.environ.get("ASSIST_HOST") or os.uname().nodename)[:64] or "host"
PID = os.getpid()
REFRESH_S = 1.0  # how long a listing of new/ is trusted before new arrivals are looked for
STALE_TMP_S = 3600.0
IN_FLIGHT_S = 5.0  # how long a put waits for another process putting the same id
ALL_MARKED = ".ids-complete"  # every task the queue held when it was first opened has its marker in ids/
_tmp_counter = iter(range(1 << 62))


def _new_name(doc: dict[str, Any], due_ms: int) -> str:
    return f"{doc.get('priority', 5)}-{due_ms:013d}-{doc['id']}.json"


def _parse_new(name: str) -> tuple[int, int, str]:
    prio, due, rest = name.split("-", 2)
    return int(prio), int(due), rest[:-5]


def _parse_cur(name: str) -> tuple[str, int, int, str]:
    task_id, deadline, pid, host = name[:-5].split("@", 3)
    return task_id, int(deadline), int(pid), host


def _due_ms(doc: dict[str, Any], default: int) -> int:
    nb = doc.get("meta", {}).get("not_before")
    if not nb:
        return default
    try:
        return max(0, parse_rfc3339(nb))
    except ValueError:
        return default


def _dumps(doc: dict[str, Any]) -> bytes:
    from ..jsonl import dumps  # imported on first use: listing an empty queue should not pay for it

    return dumps(doc)


def _loads(data: bytes) -> dict[str, Any]:
    import orjson

    return orjson.loads(data)


def pid_alive(pid: int) -> bool:
    """Whether a process of this host is alive (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _syncfs(fd: int) -> None:
    """Flush every dirty file of the file system that holds fd (one sync for a whole batch)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) == 0:
            return
    except (OSError, AttributeError):
        pass
    os.sync()


class SpoolQueue(Queue):
    def __init__(self, root: Path, name: str, settings: QueueSettings, create: bool = True):
        self.name = name
        self.root = root / name
        self.settings = settings
        self.dirs = {state: self.root / state for state in (*STATES, "tmp", "ids")}
        self._marker_generation = 0  # which shared empty file the id markers link to (.id0, .id1, ...)
        if create:
            try:
                for path in self.dirs.values():
                    path.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not (self.root / ALL_MARKED).exists():  # a new queue, or one an older assist made
                    self._mark_held_tasks()
            except OSError as exc:  # a file in the way, no permission, a read-only disk: say where
                raise StorageError(f"cannot make the queue {name!r} in {root}: {exc.strerror or exc}",
                                   STORAGE_ERRNOS.get(exc.errno or 0, CANTCREAT)) from None
        elif not self.dirs["new"].is_dir():
            raise NotFound(f"no queue named {name!r} in {root}")
        self._claim_mutex = threading.Lock()
        self._listing: builtins.list[str] = []
        self._pos = 0
        self._listed_at = 0.0
        self.next_due_ms: int | None = None
        self._thread_lock = threading.Lock()
        self._file_lock: Any = None
        self._watch: Any = None  # None: not started; False: no inotify here; else (fd, wake_r, wake_w)
        self._inotify: Any = None
        self._wakeup = threading.Event()  # interrupt(): stays set, every later wait returns at once
        self._arrivals = threading.Condition()  # wait() in several threads: one selects, the others sleep here
        self._selecting = False
        self._looks = 0  # how many times the selecting thread came back: the sleepers' cue to look again

    # -- helpers ------------------------------------------------------------------------------------

    def _path(self, state: str, name: str) -> str:
        return f"{self.root}/{state}/{name}"

    def _tmp_path(self, task_id: str) -> str:
        return f"{self.root}/tmp/{task_id}.{PID}.{next(_tmp_counter)}.tmp"

    def _create(self, path: str, data: bytes) -> int:
        """Write a new file and return its descriptor, still open so it can be synced after it is moved.
        A file that cannot be written whole (the disk is full) is removed."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:  # a write may take part of it (a disk filling up): the rest, or ENOSPC
                view = view[os.write(fd, view):]
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return fd

    def _commit(self, fd: int) -> None:
        """Sync a file after its final rename, then close it.

        The rename changed the file's inode (its ctime) in the same journal transaction that moved its
        directory entry, so syncing the file makes its data and its new name durable together: one sync
        per task instead of a sync of the file and another of the folder.
        """
        try:
            if self.settings.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The queue's file lock, for read-modify-write changes (never held on put, claim or ack)."""
        if self._file_lock is None:
            from filelock import FileLock

            self._file_lock = FileLock(str(self.root / ".lock"), thread_local=False, is_singleton=False)
        with self._thread_lock, self._file_lock.acquire(poll_interval=0.002):
            yield

    def _rewrite_and_move(self, src: str, dest: str, doc: dict[str, Any]) -> None:
        """Give the file at src new content, then move it to dest (src must be ours, under the lock)."""
        tmp = self._tmp_path(doc["id"])
        fd = self._create(tmp, _dumps(doc))
        try:
            os.rename(tmp, src)
            os.rename(src, dest)
        finally:
            self._commit(fd)

    def _read(self, path: str) -> dict[str, Any]:
        """A task file's document, for administration: an unreadable one is a one-line error."""
        from ..errors import Unreadable

        try:
            data = read_file(path)
            return parse_document(data, _task_id(os.path.basename(os.path.dirname(path)),
                                                 os.path.basename(path)) or "")
        except InvalidTask as exc:
            raise Unreadable(f"{path}: {exc}") from None

    def _read_task(self, path: str, task_id: str) -> dict[str, Any]:
        """A leased task's document, checked (InvalidTask when it is not one)."""
        data = read_file(path)
        try:
            return parse_document(data, task_id)
        except InvalidTask as exc:
            exc.raw = data  # type: ignore[attr-defined]
            raise

    def _set_aside(self, path: str, task_id: str | None, reason: str, raw: bytes | None) -> None:
        """Something that is not a task, found at path (leased to us): the original goes to quarantine/,
        a record saying why to failed/. Nothing is deleted."""
        import re

        from ..task import SAFE_ID, new_id

        kept = self.root / "quarantine"
        kept.mkdir(exist_ok=True, mode=0o700)
        name = f"{now_ms()}-{os.path.basename(path)}"
        os.rename(path, kept / name)
        if not task_id or not re.match(SAFE_ID, task_id) or self._locate(task_id) is not None:
            task_id = new_id()
        record = invalid_record(task_id, self.name, reason, f"{self.name}/quarantine/{name}", raw)
        self.put_many([record], state="failed")

    def _set_aside_unleased(self, state: str, name: str, reason: str) -> None:
        """Like _set_aside, for an entry nobody leased (a badly named file in new/)."""
        path = self._path(state, name)
        raw = None
        try:
            raw = read_file(path)
        except InvalidTask as exc:  # not even a file: say that first
            reason = f"{exc}; {reason}"
        except OSError:
            pass
        with contextlib.suppress(FileNotFoundError):  # another worker set it aside first
            self._set_aside(path, None, reason, raw)

    # -- producing ----------------------------------------------------------------------------------

    def put_many(self, docs: Iterable[dict[str, Any]], state: str = "new") -> builtins.list[str]:
        """Write each task to tmp/, claim its id, rename it into place, then sync: one fsync per task, or a
        single syncfs for a batch. A task is never visible half-written, and is durable when this returns.

        A task whose id the queue already holds (in any state) is skipped: the first one is kept, so a
        put repeated after a crash, or the same event ingested twice, is stored once. Returns the ids
        stored now; if the disk refuses a write, the OSError carries in `stored` those placed before."""
        unique = {checked_id(doc): doc for doc in reversed(list(docs))}  # the first of each id
        now = now_ms()
        single = len(unique) == 1
        stored: builtins.list[str] = []
        try:
            for task_id, doc in reversed(unique.items()):
                tmp = self._tmp_path(task_id)
                fd = self._create(tmp, _dumps(doc))
                try:
                    if not self._reserve(task_id, os.path.basename(tmp)):
                        os.unlink(tmp)
                        continue
                    try:
                        os.rename(tmp, self._path(state, self._name_in(state, doc, now)))
                    except BaseException:
                        self._unreserve(task_id)
                        raise
                    stored.append(task_id)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise
                finally:
                    if single:
                        self._commit(fd)  # one task: sync it after its rename
                    else:
                        os.close(fd)
        except OSError as exc:  # the disk refused one: those placed are made safe, and named
            if stored and not single:
                with contextlib.suppress(OSError):
                    self._sync_folder(state)
            exc.stored = stored  # type: ignore[attr-defined]
            raise
        if stored and not single:
            self._sync_folder(state)
        return stored

    def _sync_folder(self, state: str) -> None:
        if not self.settings.fsync:
            return
        fd = os.open(self.dirs[state], os.O_RDONLY)
        try:
            _syncfs(fd)
        finally:
            os.close(fd)

    def _reserve(self, task_id: str, own_tmp: str) -> bool:
        """Claim the id for a put whose file is written in tmp/ (called before it is renamed into place):
        a marker ids/<id> is made, a hard link to one shared empty file (a link is a cheap as a rename; a
        new file would cost an inode). False when the queue holds the task already.

        A marker may also stand for a put under way in another process (its file is in tmp/: wait for it)
        or for a put that crashed before its rename (nothing in tmp/, no task: taken over). tmp/ is looked
        at before the states: a put that moves its file on in between is then found in its state."""
        marker = self._path("ids", task_id)
        deadline = time.monotonic() + IN_FLIGHT_S
        while True:
            try:
                self._link_marker(marker)
                return True
            except FileExistsError:
                pass
            if self._putting(task_id, own_tmp) and time.monotonic() < deadline:
                time.sleep(0.02)  # another put is placing it right now
                continue
            if self._locate(task_id) is not None:
                return False
            with contextlib.suppress(FileNotFoundError):
                os.unlink(marker)  # stale: its put never finished

    def _link_marker(self, marker: str) -> None:
        for _ in range(3):
            shared = self.root / f".id{self._marker_generation}"
            try:
                os.link(shared, marker)
                return
            except FileNotFoundError:
                if not shared.exists():
                    shared.touch(mode=0o600, exist_ok=True)
                else:
                    self.dirs["ids"].mkdir(exist_ok=True, mode=0o700)  # a queue made before ids/ existed
            except OSError as exc:
                if exc.errno == errno.EMLINK:  # the shared file has all the links it may: the next one
                    self._marker_generation += 1
                elif exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # no hard links here
                    return
                else:
                    raise
        os.link(self.root / f".id{self._marker_generation}", marker)

    def _mark_held_tasks(self) -> None:
        """Give every task the queue holds its marker (a queue an older assist made has none), so a second
        put of one is found like any other; then ALL_MARKED says so. A crash before that: done again."""
        for state in STATES:
            for name in os.listdir(self.dirs[state]):
                task_id = _task_id(state, name) if name.endswith(".json") else None
                if task_id:
                    with contextlib.suppress(FileExistsError):
                        self._link_marker(self._path("ids", task_id))
        (self.root / ALL_MARKED).touch(mode=0o600)

    def _unreserve(self, task_id: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._path("ids", task_id))

    def _putting(self, task_id: str, own_tmp: str) -> bool:
        """Whether another put of this task is under way: its file in tmp/, written by a live process."""
        prefix = f"{task_id}."
        for name in os.listdir(self.dirs["tmp"]):
            if name.startswith(prefix) and name != own_tmp:
                parts = name.split(".")
                if len(parts) >= 4 and parts[-3].isdigit() and pid_alive(int(parts[-3])):
                    return True
        return False

    @staticmethod
    def _name_in(state: str, doc: dict[str, Any], now: int) -> str:
        return _new_name(doc, _due_ms(doc, now)) if state == "new" else f"{doc['id']}.json"

    # -- consuming ----------------------------------------------------------------------------------

    def _lease_name(self, task_id: str, lease_s: float | None) -> tuple[str, int]:
        deadline = now_ms() + int(1000 * (lease_s or self.settings.lease_s))
        return f"{task_id}@{deadline}@{PID}@{HOST}.json", deadline

    def claim(self, n: int = 1, lease_s: float | None = None) -> builtins.list[Lease]:
        out: builtins.list[Lease] = []
        with self._claim_mutex:
            relisted = False
            while len(out) < n:
                now = now_ms()
                if self._pos >= len(self._listing) or time.monotonic() - self._listed_at > REFRESH_S:
                    if relisted and self._pos >= len(self._listing):
                        break
                    self._listing = sorted(os.listdir(self.dirs["new"]))
                    self._pos = 0
                    self._listed_at = time.monotonic()
                    self.next_due_ms = None
                    relisted = True
                    if not self._listing:
                        break
                name = self._listing[self._pos]
                self._pos += 1
                try:
                    _prio, due, task_id = _parse_new(name)
                except ValueError:
                    if name.endswith(".json"):
                        self._set_aside_unleased("new", name, "its name is not <priority>-<due>-<id>.json")
                    continue
                if due > now:
                    if self.next_due_ms is None or due < self.next_due_ms:
                        self.next_due_ms = due
                    continue
                lease_name, deadline = self._lease_name(task_id, lease_s)
                cur = self._path("cur", lease_name)
                try:
                    os.rename(self._path("new", name), cur)
                except FileNotFoundError:
                    continue  # another worker won it
                try:
                    doc = self._read_task(cur, task_id)
                except InvalidTask as exc:
                    self._set_aside(cur, task_id, str(exc), getattr(exc, "raw", None))
                    continue
                out.append(Lease(self.name, task_id, doc, deadline, lease_name))
        return out

    def heartbeat(self, lease: Lease, lease_s: float | None = None) -> None:
        with lease.mutex:
            new_name, deadline = self._lease_name(lease.id, lease_s)
            try:
                os.rename(self._path("cur", lease.handle), self._path("cur", new_name))
            except FileNotFoundError:
                lease.lost.set()
                raise LeaseLost(f"task {lease.id}: lease lost (cancelled or reaped)") from None
            lease.handle, lease.deadline_ms = new_name, deadline

    def ack(self, lease: Lease, doc: dict[str, Any] | None = None) -> None:
        dest = self._path("done", f"{lease.id}.json")
        with lease.mutex:
            try:
                os.rename(self._path("cur", lease.handle), dest)
            except FileNotFoundError:
                lease.lost.set()
                raise LeaseLost(f"task {lease.id}: lease lost (cancelled or reaped)") from None
        if doc is not None:  # keep the final form: replace the done file's content atomically
            tmp = self._tmp_path(lease.id)
            fd = self._create(tmp, _dumps(doc))
            try:
                os.rename(tmp, dest)
            finally:
                self._commit(fd)

    def _leased_path(self, lease: Lease) -> str:
        path = self._path("cur", lease.handle)
        if not os.path.exists(path):
            lease.lost.set()
            raise LeaseLost(f"task {lease.id}: lease lost (cancelled or reaped)")
        return path

    def nack(self, lease: Lease, error: str, *, permanent: bool = False,
             doc: dict[str, Any] | None = None) -> str:
        doc = doc if doc is not None else lease.doc
        with self._locked(), lease.mutex:
            src = self._leased_path(lease)
            return self._requeue(src, doc, error, permanent)

    def _requeue(self, src: str, doc: dict[str, Any], error: str, permanent: bool) -> str:
        state, due = next_attempt(doc, error, permanent, self.settings)
        dest = self._path("failed", f"{doc['id']}.json") if state == "failed" else \
            self._path("new", _new_name(doc, due))
        self._rewrite_and_move(src, dest, doc)
        return state

    def hold(self, lease: Lease, doc: dict[str, Any], reason: str) -> None:
        doc.setdefault("meta", {})["hold_reason"] = reason
        with self._locked(), lease.mutex:
            src = self._leased_path(lease)
            self._rewrite_and_move(src, self._path("hold", f"{lease.id}.json"), doc)

    def release(self, lease: Lease) -> None:
        with lease.mutex:
            dest = self._path("new", _new_name(lease.doc, _due_ms(lease.doc, now_ms())))
            try:
                os.rename(self._path("cur", lease.handle), dest)
            except FileNotFoundError:
                lease.lost.set()
                raise LeaseLost(f"task {lease.id}: lease lost (cancelled or reaped)") from None

    # -- administration -----------------------------------------------------------------------------

    def _locate(self, task_id: str) -> tuple[str, str] | None:
        """(state, file name) of a task, or None."""
        for state in ("hold", "failed", "done", "cancelled"):
            name = f"{task_id}.json"
            if os.path.exists(self._path(state, name)):
                return state, name
        suffix = f"-{task_id}.json"
        for name in os.listdir(self.dirs["new"]):
            if name.endswith(suffix):
                return "new", name
        prefix = f"{task_id}@"
        for name in os.listdir(self.dirs["cur"]):
            if name.startswith(prefix):
                return "cur", name
        return None

    def _must_locate(self, task_id: str) -> tuple[str, str]:
        found = self._locate(task_id)
        if found is None:
            raise NotFound(f"no task {task_id} in queue {self.name}")
        return found

    def cancel(self, task_id: str) -> str:
        with self._locked():
            for _ in range(3):  # a claim may move it from new/ to cur/ while we look
                state, name = self._must_locate(task_id)
                if state in ("done", "cancelled"):
                    raise Conflict(f"task {task_id} is already {state}")
                try:
                    os.rename(self._path(state, name), self._path("cancelled", f"{task_id}.json"))
                except FileNotFoundError:
                    continue
                self._commit(os.open(self._path("cancelled", f"{task_id}.json"), os.O_RDONLY))
                return state
        raise Conflict(f"task {task_id} kept moving; try again")

    def _held(self, task_id: str) -> tuple[str, dict[str, Any]]:
        """Path and document of a task in hold/ (under the lock)."""
        state, name = self._must_locate(task_id)
        if state != "hold":
            raise Conflict(f"task {task_id} is {state}, not waiting for approval (hold)")
        src = self._path("hold", name)
        return src, self._read(src)

    def approve(self, task_id: str, route: str | None = None) -> None:
        with self._locked():
            src, doc = self._held(task_id)
            meta = doc.setdefault("meta", {})
            if route:
                routed_by_person(doc, route)
            for key in ("not_before", "hold_reason", "approved"):
                meta.pop(key, None)
            self._rewrite_and_move(src, self._path("new", _new_name(doc, now_ms())), doc)

    def reject(self, task_id: str, reason: str = "") -> None:
        with self._locked():
            src, doc = self._held(task_id)
            doc.setdefault("meta", {})["last_error"] = "rejected" + (f": {reason}" if reason else "")
            self._rewrite_and_move(src, self._path("cancelled", f"{task_id}.json"), doc)

    def retry(self, task_id: str) -> str:
        with self._locked():
            state, name = self._must_locate(task_id)
            if state not in ("failed", "cancelled"):
                raise Conflict(f"task {task_id} is {state}; only failed or cancelled tasks can be retried")
            src = self._path(state, name)
            doc = self._read(src)
            meta = doc.setdefault("meta", {})
            meta["attempts"] = 0
            meta.pop("not_before", None)
            self._rewrite_and_move(src, self._path("new", _new_name(doc, now_ms())), doc)
            return state

    def _info(self, state: str, name: str, entry: os.DirEntry | None = None) -> TaskInfo | None:
        if not name.endswith(".json"):
            return None
        changed = None
        if entry is not None:
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                changed = int(max(st.st_mtime, st.st_ctime) * 1000)
        try:
            if state == "new":
                prio, due, task_id = _parse_new(name)
                return TaskInfo(task_id, self.name, state, priority=prio, due_ms=due, changed_ms=changed,
                                handle=name)
            if state == "cur":
                task_id, deadline, pid, host = _parse_cur(name)
                return TaskInfo(task_id, self.name, state, deadline_ms=deadline, owner=f"{pid}@{host}",
                                changed_ms=changed, handle=name)
        except ValueError:
            return None
        return TaskInfo(name[:-5], self.name, state, changed_ms=changed, handle=name)

    def read(self, info: TaskInfo) -> dict[str, Any] | None:
        from ..errors import Unreadable

        path = self._path(info.state, info.handle or f"{info.id}.json")
        try:
            return self._read(path)
        except FileNotFoundError:
            return None
        except Unreadable as exc:
            notice(str(exc))
            return None

    def list(self, state: str | None = None) -> Iterator[TaskInfo]:
        for st in [state] if state else STATES:
            try:
                entries = sorted(os.scandir(self.dirs[st]), key=lambda e: e.name)
            except FileNotFoundError:
                continue
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    if entry.name.endswith(".json"):
                        notice(f"{entry.path}: not a task file")
                    continue
                info = self._info(st, entry.name, entry)
                if info is not None:
                    yield info

    def get(self, task_id: str) -> tuple[TaskInfo, dict[str, Any]]:
        for _ in range(3):
            state, name = self._must_locate(task_id)
            try:
                doc = self._read(self._path(state, name))
            except FileNotFoundError:
                continue
            info = self._info(state, name)
            assert info is not None
            return info, doc
        raise Conflict(f"task {task_id} kept moving; try again")

    def find(self, prefix: str) -> builtins.list[TaskInfo]:
        found = []
        for state in STATES:
            try:
                names = os.listdir(self.dirs[state])
            except FileNotFoundError:
                continue
            for name in names:
                if not (name.startswith(prefix) or (state == "new" and prefix in name)):
                    continue
                info = self._info(state, name)
                if info is not None and info.id.startswith(prefix):
                    found.append(info)
        return found

    def _finished(self, state: str) -> builtins.list[tuple[float, str]]:
        """(when it got there, name) of each task file in a finished state; anything else is skipped."""
        if state not in TERMINAL:
            raise Conflict(f"only {', '.join(TERMINAL)} can be purged or trimmed, not {state}")
        aged = []
        for entry in os.scandir(self.dirs[state]):
            try:
                if not entry.is_file(follow_symlinks=False):
                    notice(f"{entry.path}: not a task file")
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.name.endswith(".json"):
                aged.append((max(st.st_mtime, st.st_ctime), entry.name))
        return aged

    def _remove(self, state: str, name: str) -> bool:
        """Delete a finished task's file, then its id (so the id may be used again)."""
        try:
            os.unlink(self._path(state, name))
        except FileNotFoundError:
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path("ids", name[:-5]))
        return True

    def purge(self, state: str, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        return sum(self._remove(state, name) for changed, name in self._finished(state) if changed < cutoff)

    def trim(self, state: str, keep: int) -> int:
        aged = sorted(self._finished(state))
        return sum(self._remove(state, name) for _, name in aged[:max(0, len(aged) - keep)])

    def reap(self) -> dict[str, int]:
        counts = {"requeued": 0, "failed": 0, "tmp_removed": 0, "purged": 0, "invalid": 0}
        with self._locked():
            now = now_ms()
            for name in os.listdir(self.dirs["cur"]):
                try:
                    task_id, deadline, pid, host = _parse_cur(name)
                except ValueError:
                    continue
                if deadline < now:
                    reason = f"lease expired (worker pid {pid} on {host})"
                elif host == HOST and not pid_alive(pid):
                    reason = f"worker pid {pid} on {host} died"
                else:
                    continue
                stolen, _ = self._lease_name(task_id, 60)
                try:  # take the lease first, so a late ack or renewal of the old owner fails
                    os.rename(self._path("cur", name), self._path("cur", stolen))
                except FileNotFoundError:
                    continue
                src = self._path("cur", stolen)
                try:
                    doc = self._read_task(src, task_id)
                except InvalidTask as exc:
                    self._set_aside(src, task_id, str(exc), getattr(exc, "raw", None))
                    counts["invalid"] += 1
                    continue
                state = self._requeue(src, doc, reason, permanent=False)
                counts["requeued" if state == "new" else "failed"] += 1
            for entry in os.scandir(self.dirs["tmp"]):
                parts = entry.name.split(".")
                try:
                    owner_gone = len(parts) >= 3 and not pid_alive(int(parts[-3]))
                    old = time.time() - entry.stat().st_mtime > STALE_TMP_S
                except (ValueError, FileNotFoundError):
                    continue
                if owner_gone or old:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        counts["tmp_removed"] += 1
        counts["purged"] = self.retain_done()
        return counts

    def stats(self) -> dict[str, Any]:
        now = now_ms()
        depth = {}
        for state in STATES:
            depth[state] = 0
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(self.dirs[state]):
                    if not entry.name.endswith(".json"):
                        continue
                    if entry.is_file(follow_symlinks=False):
                        depth[state] += 1
                    else:
                        notice(f"{entry.path}: not a task file")
        ready = delayed = 0
        oldest_due = None
        for name in os.listdir(self.dirs["new"]):
            try:
                _p, due, _i = _parse_new(name)
            except ValueError:
                continue
            if due <= now:
                ready += 1
                oldest_due = due if oldest_due is None else min(oldest_due, due)
            else:
                delayed += 1
        done_times = []
        for entry in os.scandir(self.dirs["done"]):
            with contextlib.suppress(OSError):
                st = entry.stat()
                done_times.append(max(st.st_mtime, st.st_ctime))
        t = time.time()
        return {
            "queue": self.name,
            "depth": depth,
            "ready": ready,
            "delayed": delayed,
            "oldest_ready_age_s": round((now - oldest_due) / 1000, 3) if oldest_due is not None else None,
            "done_last_1m": sum(1 for x in done_times if t - x <= 60),
            "done_last_5m": sum(1 for x in done_times if t - x <= 300),
            "done_last_15m": sum(1 for x in done_times if t - x <= 900),
        }

    # -- waiting ------------------------------------------------------------------------------------

    def wait(self, timeout_s: float) -> None:
        """Sleep until something arrives in new/ (inotify on Linux), interrupt() is called, or the timeout.

        The kernel queues the events while the worker is busy; they cost nothing until it waits again.
        Elsewhere than Linux it wakes at least once a second to look.
        """
        if self._wakeup.is_set():
            return
        with self._arrivals:
            if self._watch is None:
                self._watch = self._start_watch()
            if self._selecting or self._watch is False:  # another thread watches: wake when it does
                looks = self._looks
                self._arrivals.wait_for(lambda: self._looks != looks or self._wakeup.is_set(),
                                        min(timeout_s, 1.0) if self._watch is False else timeout_s)
                self._listed_at = 0.0
                return
            self._selecting = True
        try:
            watch_fd, wake_r, _ = self._watch
            readable, _, _ = select.select([watch_fd, wake_r], [], [], max(0.0, timeout_s))
            if watch_fd in readable:  # the wake pipe stays readable after interrupt(): everyone returns
                with contextlib.suppress(BlockingIOError):
                    while os.read(watch_fd, 65536):
                        pass
        finally:
            with self._arrivals:
                self._selecting = False
                self._looks += 1
                self._arrivals.notify_all()
        self._listed_at = 0.0  # look at new/ afresh

    def interrupt(self) -> None:
        """Wake every waiting thread now, and make later waits return at once (the worker is stopping)."""
        self._wakeup.set()
        with self._arrivals:
            self._arrivals.notify_all()
        if self._watch:
            os.write(self._watch[2], b"!")

    def _start_watch(self) -> Any:
        try:
            from inotify_simple import INotify, flags
        except (ImportError, OSError):
            return False
        inotify = INotify(nonblocking=True)
        inotify.add_watch(str(self.dirs["new"]), flags.MOVED_TO | flags.CREATE)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        self._inotify = inotify  # keep it open for the life of the queue
        return (inotify.fileno(), wake_r, wake_w)

    def close(self) -> None:
        if self._watch:
            self._inotify.close()
            os.close(self._watch[1])
            os.close(self._watch[2])
        self._watch = None


class Spool(Backend):
    """All spool queues under one folder."""

    def __init__(self, root: Path, settings: QueueSettings):
        self.root = root
        self.settings = settings
        self._queues: dict[str, SpoolQueue] = {}

    def queue(self, name: str, create: bool = True) -> SpoolQueue:
        q = self._queues.get(name)
        if q is None:
            q = SpoolQueue(self.root, checked_name(name), self.settings, create=create)
            self._queues[name] = q
        return q

    def queues(self) -> builtins.list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root) if e.is_dir() and (Path(e.path) / "new").is_dir())
        except FileNotFoundError:
            return []

    def register_worker(self, worker: dict[str, Any], ttl_s: float) -> None:
        folder = self.root / ".workers"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        record = {**worker, "seen": now_ms(), "ttl_ms": int(ttl_s * 1000)}
        write_atomic(folder / f"{worker['host']}-{worker['pid']}.json", _dumps(record), sync=False)

    def workers(self) -> builtins.list[dict[str, Any]]:
        out = []
        now = now_ms()
        try:
            entries = list(os.scandir(self.root / ".workers"))
        except FileNotFoundError:
            return []
        for entry in entries:
            try:
                record = _loads(read_file(entry.path))
            except (OSError, ValueError):
                continue
            gone = record.get("host") == HOST and not pid_alive(int(record.get("pid", 0)))
            if gone or now - record.get("seen", 0) > record.get("ttl_ms", 0):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)  # a worker that stopped, or died
                continue
            out.append(record)
        return sorted(out, key=lambda w: (w["host"], w["pid"]))

    def state_watch(self) -> StateWatch | None:
        """Every state change of every task as it happens (Linux inotify), or None where there is none."""
        try:
            return StateWatch(self.root)
        except (ImportError, OSError):
            return None


class StateWatch:
    """The states tasks enter, in the order the kernel saw the renames (inotify on each state folder).

    `read()` returns (queue, task id, state) tuples, never blocking; a lease renewal (a rename inside
    cur/) shows as cur again. `overflowed` is set when the kernel dropped events: list everything again.
    """

    def __init__(self, root: Path):
        from inotify_simple import INotify, flags

        self.flags = flags
        self.inotify = INotify(nonblocking=True)
        self.root = root
        self.watches: dict[int, tuple[str, str | None]] = {}
        self.overflowed = False
        root.mkdir(parents=True, exist_ok=True)
        self._add(root, "", None)
        for entry in os.scandir(root):
            if entry.is_dir():
                self._watch_queue(entry.name)

    def _add(self, path: Path, queue: str, state: str | None) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            wd = self.inotify.add_watch(str(path), self.flags.MOVED_TO | self.flags.CREATE)
            self.watches[wd] = (queue, state)

    def _watch_queue(self, name: str) -> None:
        self._add(self.root / name, name, None)  # its state folders, if they come after
        for state in STATES:
            self._add(self.root / name / state, name, state)

    def _present(self, queue: str, state: str) -> builtins.list[tuple[str, str, str]]:
        """Tasks already in a folder found late (made just before its watch): they arrived unseen."""
        try:
            names = sorted(os.listdir(self.root / queue / state))
        except FileNotFoundError:
            return []
        return [(queue, task_id, state) for n in names if n.endswith(".json") and (task_id := _task_id(state, n))]

    def read(self) -> builtins.list[tuple[str, str, str]]:
        out = []
        for event in self.inotify.read(timeout=0):
            if event.mask & self.flags.Q_OVERFLOW:
                self.overflowed = True
                continue
            queue, state = self.watches.get(event.wd, (None, None))
            is_dir = bool(event.mask & self.flags.ISDIR)
            if queue == "" and is_dir:
                self._watch_queue(event.name)
                for found in STATES:
                    out += self._present(event.name, found)
            elif queue and state is None and is_dir and event.name in STATES:
                self._add(self.root / queue / event.name, queue, event.name)
                out += self._present(queue, event.name)
            elif queue and state and event.name.endswith(".json") and not is_dir:
                task_id = _task_id(state, event.name)
                if task_id:
                    out.append((queue, task_id, state))
        return out

    def close(self) -> None:
        self.inotify.close()


def _task_id(state: str, name: str) -> str | None:
    try:
        if state == "new":
            return _parse_new(name)[2]
        if state == "cur":
            return _parse_cur(name)[0]
    except ValueError:
        return None
    return name[:-5]
