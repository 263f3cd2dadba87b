"""The stage runner shared by every stage command (docs/stages.md).

Input is stdin (JSON lines) or a queue (`--from`); output is stdout or a queue (`--to`). Each task gets a
trace entry. Temporary errors are retried with backoff, permanent ones go to the dead letter (failed/).
From a queue, each batch is leased, its leases renewed while it runs, and it is acked only after its
output is safe, so a crash redelivers it and never loses it.

Reading stdin, nothing a stage holds or fails is lost either: held tasks are parked in the hold/ of a
queue named after the stage (or --hold-queue), failed ones in its failed/, and a run first carries on
with what that queue has ready (tasks approved or retried since), so the next run of the pipe picks them
up where they stopped. Tasks that cannot be written on (the reader of stdout went away) are kept there
too. A fault of the worker itself (a full disk, a missing extra, a bug) stops it with a one-line error and
an exit code; its leases are given back.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import errors, jsonl
from .. import task as taskmod
from ..alerts import Alerts
from ..errors import AssistError, LeaseLost, PermanentError, ReaderGone, TemporaryError
from ..printable import printable
from ..queue.base import next_attempt
from ..redaction import CONTENT_FIELDS, without_content
from ..timeutil import now_ms, rfc3339
from .base import Hold, Outcome, Stage, StageContext, failure_of
from .config_watch import SETTLE_S, ConfigWatch
from .watchdog import Watchdog

if TYPE_CHECKING:
    from ..config import Config


@dataclass
class RunOptions:
    source: str | None = None  # queue name; None = stdin
    dest: str | None = None  # queue name; None = stdout
    once: bool = True
    concurrency: int = 1
    timeout_s: float | None = None
    dead_letter: str | None = None  # reading stdin: the queue that keeps failed tasks (default: the stage's)
    rejects_path: str | None = None
    hold_queue: str | None = None  # reading stdin: the queue that keeps held tasks (default: the stage's)
    pass_on: bool = True  # False: finished tasks stay in the source queue's done/ only (assist ask)
    alone: bool = False  # --once from a queue: step aside while another such worker of this home drains it


@dataclass
class Counts:
    ok: int = 0
    held: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    bad_lines: int = 0

    def exit_code(self) -> int:
        if self.bad_lines:
            return errors.DATAERR
        if self.failed:
            return errors.TASKS_FAILED
        return errors.OK


def _error_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, errors.AssistError):
        text = f"{type(exc).__name__}: {text}"
    return text.splitlines()[0][:500]


def _is_temporary(exc: BaseException) -> bool:
    return isinstance(exc, TemporaryError | TimeoutError | ConnectionError)


def worker_fault(exc: BaseException, command: str) -> AssistError | None:
    """The error that stops a worker rather than failing a task: a full or read-only disk, a missing
    optional extra, a model not pulled yet, a model file of the config that is not one. None for anything
    else (a task's own failure: a route naming a model that is not configured fails its tasks only)."""
    from ..ai.backends.base import ModelMissing
    from ..decide.model_file import ConfiguredNotAModel
    from ..extras import missing_extra

    if isinstance(exc, ModelMissing | ConfiguredNotAModel):
        return exc
    return errors.storage_error(exc) or missing_extra(exc, command)


class Runner:
    def __init__(self, stage: Stage, config: Config, options: RunOptions, log: Any = None):
        from .. import log as logmod

        self.stage = stage
        self.config = config
        self.opts = options
        self.settings = config.queue_settings
        self.log = log or logmod.for_component(config, stage.name)
        self.backend = config.backend()
        self.counts = Counts()
        self.alerts = Alerts(config, self.log)
        queue_cfg = config.section("queue")
        self._content_fields = () if queue_cfg.get("keep_content") else tuple(
            queue_cfg.get("content_fields") or CONTENT_FIELDS)
        self._out_lock = threading.Lock()
        self._stop = threading.Event()
        self._active: set[Any] = set()
        self._active_lock = threading.Lock()
        self._logs_pruned = float("-inf")
        self._fault: BaseException | None = None  # what stopped the worker, if anything did
        self._watchdog = Watchdog()
        self.restart = False  # stopped to start again with an edited assist.toml (run_stage does it)
        self._config_watch: Any = None
        self._draining: Any = None  # a --once worker's lock on its queue (_drain_alone)
        if options.source and not options.once:
            self._config_watch = ConfigWatch(config.home, self.log, stage.name)

    @property
    def own_queue(self) -> str:
        """Reading stdin: the queue that keeps what this stage holds (and, unless --dead-letter, fails)."""
        return self.opts.hold_queue or self.stage.name

    # -- running one batch --------------------------------------------------------------------------

    def _timeout_for(self, tasks: list[taskmod.Task]) -> float:
        if self.opts.timeout_s:
            limit = self.opts.timeout_s
        else:
            per_task = [t.get("meta", {}).get("timeout_s") for t in tasks]
            limit = max([p for p in per_task if p] or [self.settings.timeout_s])
        return limit * len(tasks) if self.stage.timeout_per_task else limit

    def _run_batch(self, tasks: list[taskmod.Task], cancelled: threading.Event) -> tuple[list[Outcome], float]:
        """Run the stage on a batch in a helper thread, giving up after the timeout.

        A stage that is still busy a grace period after its timeout (it ignores `ctx.cancelled`) could
        still act late: the worker stops (StageStuck). One that cannot even be interrupted (a C call
        holding the interpreter) is ended by the watchdog, and its leases come back."""
        ctx = StageContext(self.config, self.log, cancelled)
        box: list[Any] = []
        started = time.perf_counter()

        def work() -> None:
            try:
                box.append(self.stage.process_batch(tasks, ctx))
            except BaseException as exc:  # a batch-level failure applies to every task
                box.append([exc] * len(tasks))

        timeout = self._timeout_for(tasks)
        grace = max(5.0, timeout / 10)
        thread = threading.Thread(target=work, name=f"{self.stage.name}-work", daemon=True)
        with self._watchdog.guard(timeout + grace + 10):
            thread.start()
            thread.join(timeout)
            ms = round((time.perf_counter() - started) * 1000, 3)
            if not thread.is_alive():
                return box[0], ms
            cancelled.set()
            thread.join(grace)
        if thread.is_alive():
            self._set_fault(StageStuck(f"{self.stage.name} did not stop within {grace:g}s of its {timeout:g}s "
                                       "timeout; the worker stops so it cannot act late"))
        return [TemporaryError(f"timed out after {timeout:g}s")] * len(tasks), ms

    def _trace(self, doc: taskmod.Task, ms: float, error: str | None, stage: str | None = None) -> None:
        """Add the attempt to the task's trace; `stage` names the stage that failed inside a pipeline."""
        if error is None and self.stage.traces_itself:
            return
        doc.setdefault("trace", []).append(
            {"stage": stage or self.stage.name, "at": rfc3339(), "ms": ms, "ok": error is None, "error": error})

    def _emit(self, docs: list[taskmod.Task]) -> None:
        """Send finished tasks on: to the destination queue (durably) or to stdout."""
        if not docs or not self.opts.pass_on:
            return
        if self.opts.dest:
            self.backend.queue(self.opts.dest).put_many([taskmod.fresh_for_next_queue(d) for d in docs])
            return
        with self._out_lock:
            jsonl.write_lines(docs)

    def _fatal_outcome(self, outcomes: list[Outcome]) -> AssistError | None:
        for outcome in outcomes:
            failed = failure_of(outcome)
            if failed is not None:
                fault = worker_fault(failed[0], self.stage.name)
                if fault is not None:
                    return fault
        return None

    # -- stdin mode ---------------------------------------------------------------------------------

    def run_stdin(self) -> int:
        self._drain_own_queue()
        reader = jsonl.LineReader(sys.stdin.fileno(), self.config.max_line_bytes)
        rejects = jsonl.Rejects(f"assist {self.stage.name}", self.opts.rejects_path)
        try:
            while not self._stop.is_set():
                batch = self._read_batch(reader, rejects)
                if batch is None:
                    break
                if batch:
                    self._process_stdin_batch(batch, rejects)
            if self._fault is not None:  # stopped by a stuck stage: keep what is still in the pipe
                self._keep_ready_input(reader, rejects)
        except Exception:  # the batch in hand was kept where it stood; now what is still in the pipe
            self._keep_ready_input(reader, rejects)
            raise
        finally:
            self.counts.bad_lines = rejects.count
            rejects.close()
        return self.counts.exit_code()

    def _keep_ready_input(self, reader: jsonl.LineReader, rejects: jsonl.Rejects) -> None:
        """Stopping on a fault: the lines already sent to us (those ready now) are kept for the next run
        rather than left in the pipe; the writer finds the pipe closed and keeps the rest itself."""
        docs: list[taskmod.Task] = []
        while reader.ready() and len(docs) < 10_000:  # what was sent, not what a fast writer sends next
            batch = self._read_batch(reader, rejects)
            if not batch:
                break
            docs += [doc for _, doc in batch]
        self._keep(docs, "new", "unread when the stage stopped")

    def _drain_own_queue(self) -> None:
        """First carry on with the stage's own queue: tasks a person approved, or retried, since."""
        if self.own_queue not in self.backend.queues():
            return
        queue = self.backend.queue(self.own_queue)
        if not queue.stats()["ready"]:
            return
        self.log.info("resuming", queue=queue.name)
        with self._heartbeating(queue):
            while not self._stop.is_set():
                leases = queue.claim(self.stage.batch_size)
                if not leases:
                    break
                self._handle(queue, leases)

    def _read_batch(self, reader: jsonl.LineReader, rejects: jsonl.Rejects
                    ) -> list[tuple[int, taskmod.Task]] | None:
        """The next (line number, task) pairs: as many as are ready, up to the stage's batch size."""
        batch: list[tuple[int, taskmod.Task]] = []
        while len(batch) < self.stage.batch_size:
            if batch and not reader.ready():
                break
            line = reader.next_line()
            if line is None:
                return batch or None
            value = jsonl.parse_task(line, self.config.max_line_bytes)
            if value is None:
                continue
            if isinstance(value, jsonl.BadLine):
                rejects.add(value)
                continue
            batch.append((line.number, taskmod.normalize(value, source="stdin",
                                                         max_attempts=self.settings.max_attempts)))
        return batch

    def _process_stdin_batch(self, batch: list[tuple[int, taskmod.Task]], rejects: jsonl.Rejects) -> None:
        pending = batch
        while pending:
            outcomes, ms = self._run_batch([doc for _, doc in pending], threading.Event())
            fault = self._fatal_outcome(outcomes)
            if fault is not None:
                self._keep([doc for _, doc in pending], "new", f"kept for the next run: {fault}")
                raise fault
            settler = StdinSettler(self, rejects)
            self._settle(pending, outcomes, ms, settler)
            if settler.retry:
                self._stop.wait(max(0.0, (settler.due - now_ms()) / 1000))
            pending = settler.retry if not self._stop.is_set() else []
            if self._stop.is_set() and settler.retry:
                self._keep([doc for _, doc in settler.retry], "new", "stopped; kept for the next run")

    def _settle(self, items: list[Any], outcomes: list[Outcome], ms: float, settler: Settler) -> None:
        """The one outcome handler, for stdin and queue mode alike: each task of a batch failed (a retry
        or the dead letter, as `next_attempt` decides), was held, or finished; then the settler makes it
        so (on stdin: emit, park, dead-letter; from a queue: nack, hold, emit then ack)."""
        for item, outcome in zip(items, outcomes, strict=True):
            if settler.gone(item):
                continue
            failed = failure_of(outcome)
            if failed is not None:
                exc, stage = failed
                error = _error_text(exc)
                self._trace(settler.doc(item), ms, error, stage)
                settler.failed(item, exc, error)
            elif isinstance(outcome, Hold):
                self._trace(outcome.task, ms, None)
                settler.held(item, outcome)
            elif isinstance(outcome, dict):
                self._trace(outcome, ms, None)
                settler.finished(item, outcome)
        settler.flush(ms)

    def _park(self, held: list[taskmod.Task]) -> None:
        """Held tasks wait in the stage's own queue (hold/) for `assist queue approve`."""
        if not held:
            return
        self.backend.queue(self.own_queue).put_many(held, state="hold")
        self.counts.held += len(held)
        for doc in held:
            self.log.info("held", task=doc["id"], queue=self.own_queue, reason=doc["meta"]["hold_reason"])
            self.alerts.task_held(doc, self.own_queue, doc["meta"]["hold_reason"])
            reason = printable(doc["meta"]["hold_reason"])
            unplaced = (doc.get("intent") or {}).get("route") == "fallback"  # it needs a route, not a yes
            sys.stderr.write(f"assist {self.stage.name}: task {doc['id']} held: {reason} "
                             f"(kept in queue {self.own_queue}; `assist queue approve {doc['id']}"
                             f"{' --route NAME' if unplaced else ''}`, then the next run carries on)\n")

    def _dead_letter(self, dead: list[taskmod.Task]) -> None:
        if not dead:
            return
        queue = self.opts.dead_letter or self.own_queue
        self.backend.queue(queue).put_many(dead, state="failed")
        self.counts.failed += len(dead)
        for doc in dead:
            sys.stderr.write(f"assist {self.stage.name}: task {doc['id']} failed: "
                             f"{printable(doc['meta']['last_error'])} (kept in queue {queue}, failed/)\n")
            self.alerts.task_failed(doc, queue, doc["meta"]["last_error"])

    def _keep(self, docs: list[taskmod.Task], state: str, why: str) -> None:
        """Tasks read from stdin that this run cannot finish: into the stage's own queue, so the next
        run (which starts with that queue) carries them on."""
        if not docs:
            return
        try:
            self.backend.queue(self.own_queue).put_many(docs, state=state)
        except OSError as exc:
            self.log.error("not_kept", count=len(docs), queue=self.own_queue, error=str(exc)[:200])
            sys.stderr.write(f"assist {self.stage.name}: {len(docs)} task(s) read from stdin could not be kept "
                             f"({exc.strerror or exc}); run the pipe again\n")
            return
        self.log.warning("kept", count=len(docs), queue=self.own_queue, why=why)

    # -- queue mode ---------------------------------------------------------------------------------

    def run_queue(self) -> int:
        if self.opts.alone and not self._drain_alone():
            sys.stderr.write(f"assist {self.stage.name}: another worker is draining queue {self.opts.source} on this "
                             "machine (it takes what arrives meanwhile too); this one steps aside\n")
            return errors.OK
        queue = self.backend.queue(self.opts.source)  # type: ignore[arg-type]
        self._reap(queue)
        if not self.opts.once:
            self._install_signal_handlers(queue)
        with self._heartbeating(queue):
            workers = [threading.Thread(target=self._worker, args=(queue,), name=f"worker-{i}")
                       for i in range(max(1, self.opts.concurrency))]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        queue.close()
        return self.counts.exit_code()

    def _drain_alone(self) -> bool:
        """Take the lock a `--once` worker holds while it drains its queue, one worker per stage and queue
        of this home (cron starts one every few minutes; a backlog takes hours, and each would load the
        model); False when another holds it. It is kept for the life of the process, and the system lets
        go of it when the process ends, however it ends."""
        from filelock import FileLock, Timeout

        folder = self.config.home / "state"
        self._draining = FileLock(str(folder / f"draining-{self.stage.name}-{self.opts.source}.lock"))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._draining.acquire(timeout=0)
        except Timeout:
            return False
        except OSError as exc:  # no lock to be had (a read-only home): drain all the same, as before locks
            self.log.warning("draining_unlocked", queue=self.opts.source, error=_error_text(exc))
        return True

    def _heartbeating(self, queue: Any) -> Any:
        """A context in which the leases of the batches being worked on are renewed."""
        import contextlib

        @contextlib.contextmanager
        def beating() -> Any:
            done = threading.Event()
            beat = threading.Thread(target=self._heartbeats, args=(queue, done), name="heartbeat", daemon=True)
            beat.start()
            try:
                yield
            finally:
                done.set()

        return beating()

    def _install_signal_handlers(self, queue: Any) -> None:
        def stop(signum: int, _frame: Any) -> None:
            self.log.info("stopping", signal=signum)
            self._stop.set()
            queue.interrupt()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)

    def _register(self, queue: Any, interval: float) -> None:
        """Say this worker is alive (`assist queue workers`, top, the dashboard show the workers by host)."""
        import os

        from ..queue.spool import HOST

        me = {"host": HOST, "pid": os.getpid(), "stage": self.stage.name, "queue": queue.name,
              "command": " ".join(["assist", *sys.argv[1:]])[:300]}
        try:
            self.backend.register_worker(me, ttl_s=3 * interval + 5)
        except Exception as exc:  # the registry is for people to look at: never fail the worker for it
            self.log.warning("register_failed", error=_error_text(exc))

    def _heartbeats(self, queue: Any, done: threading.Event) -> None:
        interval = max(0.05, min(self.settings.lease_s / 3, 10.0))
        self._register(queue, interval)
        while not done.wait(interval):
            self._register(queue, interval)
            with self._active_lock:
                active = list(self._active)
            for lease, cancelled in active:
                try:
                    queue.heartbeat(lease)
                except LeaseLost:
                    cancelled.set()
                    self.log.info("lease_lost", task=lease.id, queue=queue.name)
                except Exception as exc:  # Redis away for a moment: the next beat tries again
                    self.log.warning("heartbeat_failed", task=lease.id, error=_error_text(exc))

    def _worker(self, queue: Any) -> None:
        try:
            self._work(queue)
        except BaseException as exc:  # the worker itself failed: stop every thread, say why once
            self._set_fault(exc)
            queue.interrupt()

    def _work(self, queue: Any) -> None:
        last_reap = time.monotonic()
        while not self._stop.is_set():
            if self._config_watch is not None and self._config_watch.changed():
                self.restart = True  # the batches in hand are finished first, by the other threads too
                self._stop.set()
                queue.interrupt()
                return
            leases = queue.claim(self.stage.batch_size)
            if not leases:
                if self.opts.once:
                    return
                reap_every = max(5.0, self.settings.lease_s / 2)
                if time.monotonic() - last_reap > reap_every:
                    self._reap(queue)  # also trims done/ (queue.keep_done, keep_done_max)
                    last_reap = time.monotonic()
                    self._prune_logs()
                wait = min(30.0, max(0.5, reap_every - (time.monotonic() - last_reap)))
                if queue.next_due_ms:
                    wait = min(wait, max(0.01, (queue.next_due_ms - now_ms()) / 1000))
                if self._config_watch is not None:
                    wait = min(wait, SETTLE_S)  # an edit of assist.toml is seen in a second or two
                queue.wait(wait)
                continue
            self._handle(queue, leases)

    @property
    def stuck(self) -> bool:
        """Whether the worker stopped because a stage kept running past its timeout (its thread still runs)."""
        return isinstance(self._fault, StageStuck)

    def _set_fault(self, exc: BaseException) -> None:
        with self._active_lock:
            if self._fault is None:
                self._fault = exc
        self._stop.set()

    def _reap(self, queue: Any) -> None:
        """Hand back the leases of dead or late workers; those on their last attempt go to failed/."""
        reaped = queue.reap()
        if reaped["requeued"] or reaped["failed"]:
            self.log.info("reaped", queue=queue.name, **reaped)
        if reaped["failed"]:
            self.alerts.reaped_to_failed(queue.name, reaped["failed"])
        if reaped.get("invalid"):
            self.log.warning("invalid_tasks", queue=queue.name, count=reaped["invalid"])

    def _prune_logs(self) -> None:
        """Rotated logs past logs.keep go, at most every ten minutes (one worker thread does it)."""
        now = time.monotonic()
        with self._active_lock:
            if now - self._logs_pruned < 600:
                return
            self._logs_pruned = now
        from ..retention import prune_logs

        removed = prune_logs(self.config)
        if removed:
            self.log.info("logs_pruned", files=removed)

    def _handle(self, queue: Any, leases: list[Any]) -> None:
        """Run one leased batch and settle every lease: ack (after the output is safe), hold or nack.

        If the worker fails on the way (a full disk, a missing extra, a bug), the leases not settled yet
        are given back before the error goes on: a fault of the worker costs the tasks no attempt."""
        cancelled = threading.Event()
        entries = [(lease, cancelled) for lease in leases]
        unsettled = {lease.id: lease for lease in leases}
        with self._active_lock:
            self._active.update(entries)
        try:
            tasks = [lease.doc for lease in leases]
            outcomes, ms = self._run_batch(tasks, cancelled)
            fault = self._fatal_outcome(outcomes)
            if fault is not None:
                raise fault
            self._settle(leases, outcomes, ms, QueueSettler(self, queue, unsettled))
        except BaseException:
            self._give_back(queue, list(unsettled.values()))
            raise
        finally:
            with self._active_lock:
                self._active.difference_update(entries)

    def _give_back(self, queue: Any, leases: list[Any]) -> None:
        for lease in leases:
            try:
                queue.release(lease)
            except Exception as exc:  # the lease is reaped once this process is gone
                self.log.warning("release_failed", task=lease.id, queue=queue.name, error=_error_text(exc))

    def _dropped(self, queue: Any, lease: Any, reason: str) -> None:
        self.counts.dropped += 1
        self.log.info("dropped", task=lease.id, queue=queue.name, reason=reason)

    def _kept_in_done(self, lease: Any, doc: taskmod.Task) -> taskmod.Task | None:
        """The copy done/ keeps (None: the task as claimed): the final form when the task ends here,
        the claimed form when it went on to another queue; without its content either way."""
        final = lease.doc if self.opts.dest else doc
        kept = without_content(final, self._content_fields) if self._content_fields else None
        if kept is not None:
            return kept
        return None if self.opts.dest else doc

    def _fail(self, queue: Any, lease: Any, exc: BaseException, error: str) -> None:
        """Record a failed attempt of a leased task: retried later, or to failed/ (next_attempt decides)."""
        doc = lease.doc
        permanent = isinstance(exc, PermanentError) or not _is_temporary(exc)
        state = queue.nack(lease, error, permanent=permanent, doc=doc)
        if state == "failed":
            self.counts.failed += 1
            self.log.error("failed", task=lease.id, queue=queue.name, type=doc.get("type"), error=error)
            self.alerts.task_failed(doc, queue.name, error)
            if self.opts.source is None:  # reading stdin, carrying on with the stage's own queue: say so
                sys.stderr.write(f"assist {self.stage.name}: task {lease.id} failed: {printable(error)} "
                                 f"(kept in queue {queue.name}, failed/)\n")
        else:
            self.counts.retried += 1
            self.log.warning("retry", task=lease.id, queue=queue.name, type=doc.get("type"), error=error,
                             attempts=doc.get("meta", {}).get("attempts"))

    def run(self) -> int:
        started = time.perf_counter()
        try:
            code = self.run_queue() if self.opts.source else self.run_stdin()
        except Exception as exc:  # a fault of the worker (reading stdin); its tasks were kept
            self._set_fault(exc)
            code = errors.OK
        c = self.counts
        self.log.info("run_finished", source=self.opts.source or "stdin", dest=self.opts.dest or "stdout",
                      ok=c.ok, held=c.held, retried=c.retried, failed=c.failed, dropped=c.dropped,
                      bad_lines=c.bad_lines, ms=round((time.perf_counter() - started) * 1000, 1))
        if self._fault is not None:
            self.restart = False  # a fault is said and ends the worker, edited config or not
            return self._report_fault(self._fault)
        self.alerts.going(self.stage.name)
        return code

    def _report_fault(self, exc: BaseException) -> int:
        """One line for a fault a user can fix (exit 75, 73, 69); a bug also shows its traceback (70).
        Either is alerted once it lasts (alerts.py: stopped)."""
        fault = worker_fault(exc, self.stage.name) or (exc if isinstance(exc, AssistError) else None)
        if fault is not None:
            self.log.error("stopped", error=_error_text(fault))
            sys.stderr.write(f"assist {self.stage.name}: stopped: {printable(_error_text(fault))}\n")
            self.alerts.stopped(self.stage.name, _error_text(fault))
            return fault.exit_code
        import traceback

        self.alerts.stopped(self.stage.name, f"the worker died (a bug): {_error_text(exc)}")
        self.log.error("worker_died", error=_error_text(exc))
        sys.stderr.write(f"assist {self.stage.name}: the worker died (a bug; its tasks were given back):\n")
        traceback.print_exception(exc, file=sys.stderr)
        return errors.SOFTWARE


class Settler:
    """Makes the outcome of each task of a batch so, where its tasks came from (see Runner._settle)."""

    def gone(self, item: Any) -> bool:
        return False

    def doc(self, item: Any) -> taskmod.Task:
        raise NotImplementedError

    def failed(self, item: Any, exc: BaseException, error: str) -> None:
        raise NotImplementedError

    def held(self, item: Any, hold: Hold) -> None:
        raise NotImplementedError

    def finished(self, item: Any, doc: taskmod.Task) -> None:
        raise NotImplementedError

    def flush(self, ms: float) -> None:
        raise NotImplementedError


class StdinSettler(Settler):
    """Reading stdin (items: line number and task): finished tasks go to stdout (or --to), held ones to the
    stage's own queue, failed ones to its dead letter or, with attempts left, back into the loop."""

    def __init__(self, runner: Runner, rejects: jsonl.Rejects):
        self.runner, self.rejects = runner, rejects
        self.done: list[taskmod.Task] = []
        self.parked: list[taskmod.Task] = []
        self.dead: list[taskmod.Task] = []
        self.retry: list[tuple[int, taskmod.Task]] = []
        self.due = 0

    def doc(self, item: tuple[int, taskmod.Task]) -> taskmod.Task:
        return item[1]

    def failed(self, item: tuple[int, taskmod.Task], exc: BaseException, error: str) -> None:
        doc = item[1]
        state, when = next_attempt(doc, error, not _is_temporary(exc), self.runner.settings)
        self.runner.log.warning("task_error", task=doc["id"], type=doc.get("type"), error=error,
                                attempt=doc["meta"]["attempts"])
        if state == "new":
            self.retry.append(item)
            self.due = max(self.due, when)
        else:
            self.dead.append(doc)

    def held(self, item: tuple[int, taskmod.Task], hold: Hold) -> None:
        hold.task.setdefault("meta", {})["hold_reason"] = hold.reason
        self.parked.append(hold.task)
        if hold.bad_input:
            self.rejects.name(item[0], f"task {item[1]['id']}: {hold.reason}")

    def finished(self, item: tuple[int, taskmod.Task], doc: taskmod.Task) -> None:
        self.done.append(doc)

    def flush(self, ms: float) -> None:
        runner = self.runner
        runner._park(self.parked)
        runner._dead_letter(self.dead)
        try:
            runner._emit(self.done)
        except ReaderGone:
            runner._keep(self.done + [doc for _, doc in self.retry], "new",
                         "the reader of stdout went away; kept for the next run")
            raise
        runner.counts.ok += len(self.done)
        runner.counts.retried += len(self.retry)


class QueueSettler(Settler):
    """From a queue (items: leases): failed tasks are nacked, held ones held, finished ones sent on and
    then acked (once their output is safe). `unsettled` keeps the leases not settled yet, for the runner
    to give back if the worker fails on the way."""

    def __init__(self, runner: Runner, queue: Any, unsettled: dict[str, Any]):
        self.runner, self.queue, self.unsettled = runner, queue, unsettled
        self.finished_leases: list[tuple[Any, taskmod.Task]] = []

    def gone(self, lease: Any) -> bool:
        if not lease.lost.is_set():
            return False
        self.runner._dropped(self.queue, lease, "lease lost")
        self.unsettled.pop(lease.id)
        return True

    def doc(self, lease: Any) -> taskmod.Task:
        return lease.doc

    def failed(self, lease: Any, exc: BaseException, error: str) -> None:
        with self._settling(lease):
            self.runner._fail(self.queue, lease, exc, error)

    def held(self, lease: Any, hold: Hold) -> None:
        with self._settling(lease):
            self.queue.hold(lease, hold.task, hold.reason)
            self.runner.counts.held += 1
            self.runner.log.info("held", task=lease.id, queue=self.queue.name, reason=hold.reason)
            self.runner.alerts.task_held(hold.task, self.queue.name, hold.reason)

    def finished(self, lease: Any, doc: taskmod.Task) -> None:
        self.finished_leases.append((lease, doc))

    def _settling(self, lease: Any) -> Any:
        import contextlib

        @contextlib.contextmanager
        def settling() -> Any:
            try:
                yield
            except LeaseLost:
                self.runner._dropped(self.queue, lease, "lease lost")
            self.unsettled.pop(lease.id)

        return settling()

    def flush(self, ms: float) -> None:
        runner = self.runner
        runner._emit([doc for _, doc in self.finished_leases])
        for lease, doc in self.finished_leases:
            try:
                self.queue.ack(lease, runner._kept_in_done(lease, doc))
                runner.counts.ok += 1
                runner.log.debug("done", task=lease.id, queue=self.queue.name, ms=ms)
            except LeaseLost:
                runner._dropped(self.queue, lease, "lease lost at ack")
            self.unsettled.pop(lease.id)


class StageStuck(TemporaryError):
    """A stage kept working past its timeout and the grace after it."""
