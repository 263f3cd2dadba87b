"""The stage runner shared by every stage command (DESIGN §5).

Input is stdin (JSON lines) or a queue (`--from`); output is stdout or a queue (`--to`). Each task gets a
trace entry. Temporary errors are retried with backoff, permanent ones go to the dead letter (failed/).
From a queue, each batch is leased, its leases renewed while it runs, and it is acked only after its
output is safe, so a crash redelivers it and never loses it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from .. import errors, jsonl
from .. import task as taskmod
from ..alerts import Alerts
from ..content import CONTENT_FIELDS, without_content
from ..errors import LeaseLost, PermanentError, TemporaryError
from ..queue.base import backoff_s
from ..timeutil import now_ms, rfc3339
from .base import Hold, Outcome, Stage, StageContext


@dataclass
class RunOptions:
    source: str | None = None  # queue name; None = stdin
    dest: str | None = None  # queue name; None = stdout
    once: bool = True
    concurrency: int = 1
    timeout_s: float | None = None
    dead_letter: str | None = None  # queue for tasks that fail when reading stdin
    rejects_path: str | None = None


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


class Runner:
    def __init__(self, stage: Stage, config: Any, options: RunOptions, log: Any = None):
        from .. import log as logmod
        from ..queue import open_backend

        self.stage = stage
        self.config = config
        self.opts = options
        self.settings = config.queue_settings
        self.log = log or logmod.for_component(config, stage.name)
        self.backend = open_backend(config)
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
        self._line_numbers: dict[int, int] = {}  # id(task) -> its stdin line, for the batch read last

    # -- running one batch --------------------------------------------------------------------------

    def _timeout_for(self, tasks: list[taskmod.Task]) -> float:
        if self.opts.timeout_s:
            limit = self.opts.timeout_s
        else:
            per_task = [t.get("meta", {}).get("timeout_s") for t in tasks]
            limit = max([p for p in per_task if p] or [self.settings.timeout_s])
        return limit * len(tasks) if getattr(self.stage, "timeout_per_task", False) else limit

    def _run_batch(self, tasks: list[taskmod.Task], cancelled: threading.Event) -> tuple[list[Outcome], float]:
        """Run the stage on a batch in a helper thread, giving up after the timeout."""
        ctx = StageContext(self.config, self.log, cancelled)
        box: list[Any] = []
        started = time.perf_counter()

        def work() -> None:
            try:
                box.append(self.stage.process_batch(tasks, ctx))
            except BaseException as exc:  # a batch-level failure applies to every task
                box.append([exc] * len(tasks))

        thread = threading.Thread(target=work, name=f"{self.stage.name}-work", daemon=True)
        thread.start()
        timeout = self._timeout_for(tasks)
        thread.join(timeout)
        ms = round((time.perf_counter() - started) * 1000, 3)
        if thread.is_alive():
            cancelled.set()
            return [TemporaryError(f"timed out after {timeout:g}s")] * len(tasks), ms
        return box[0], ms

    def _trace(self, doc: taskmod.Task, ms: float, error: str | None, exc: BaseException | None = None) -> None:
        if error is None and getattr(self.stage, "traces_itself", False):
            return
        stage = getattr(exc, "stage", None) or self.stage.name
        doc.setdefault("trace", []).append(
            {"stage": stage, "at": rfc3339(), "ms": ms, "ok": error is None, "error": error})

    def _emit(self, docs: list[taskmod.Task]) -> None:
        """Send finished tasks on: to the destination queue (durably) or to stdout."""
        if not docs:
            return
        if self.opts.dest:
            self.backend.queue(self.opts.dest).put_many([taskmod.fresh_for_next_queue(d) for d in docs])
        else:
            with self._out_lock:
                jsonl.write_lines(docs)

    # -- stdin mode ---------------------------------------------------------------------------------

    def run_stdin(self) -> int:
        reader = jsonl.LineReader(sys.stdin.fileno(), self.config.max_line_bytes)
        rejects = jsonl.Rejects(f"assist {self.stage.name}", self.opts.rejects_path)
        try:
            while True:
                batch = self._read_batch(reader, rejects)
                if batch is None:
                    break
                if batch:
                    self._process_stdin_batch(batch, rejects)
        finally:
            rejects.close()
        self.counts.bad_lines = rejects.count
        return self.counts.exit_code()

    def _read_batch(self, reader: jsonl.LineReader, rejects: jsonl.Rejects) -> list[taskmod.Task] | None:
        batch: list[taskmod.Task] = []
        self._line_numbers = {}
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
            doc = taskmod.normalize(value, source="stdin", max_attempts=self.settings.max_attempts)
            self._line_numbers[id(doc)] = line.number
            batch.append(doc)
        return batch

    def _process_stdin_batch(self, tasks: list[taskmod.Task], rejects: jsonl.Rejects) -> None:
        pending = tasks
        attempt = 0
        while pending:
            attempt += 1
            outcomes, ms = self._run_batch(pending, threading.Event())
            done, retry, dead = [], [], []
            for doc, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    error = _error_text(outcome)
                    self._trace(doc, ms, error, outcome)
                    meta = doc.setdefault("meta", {})
                    meta["attempts"] = attempt
                    meta["last_error"] = error
                    max_attempts = meta.get("max_attempts", self.settings.max_attempts)
                    if _is_temporary(outcome) and attempt < max_attempts:
                        retry.append(doc)
                    else:
                        dead.append(doc)
                    self.log.warning("task_error", task=doc["id"], type=doc.get("type"), error=error,
                                     attempt=attempt)
                else:
                    out = outcome.task if isinstance(outcome, Hold) else outcome
                    if isinstance(outcome, Hold) and outcome.bad_input:
                        rejects.name(self._line_numbers.get(id(doc), 0), f"task {doc['id']}: {outcome.reason}")
                    self._trace(out, ms, None)
                    done.append(out)
            self._emit(done)
            self.counts.ok += len(done)
            if dead:
                queue = self.opts.dead_letter or self.stage.name
                self.backend.queue(queue).put_many(dead, state="failed")
                self.counts.failed += len(dead)
                for doc in dead:
                    sys.stderr.write(f"assist {self.stage.name}: task {doc['id']} failed: "
                                     f"{doc['meta']['last_error']} (kept in queue {queue}, failed/)\n")
                    self.alerts.task_failed(doc, queue, doc["meta"]["last_error"])
            if retry:
                self.counts.retried += len(retry)
                time.sleep(backoff_s(attempt, self.settings))
            pending = retry

    # -- queue mode ---------------------------------------------------------------------------------

    def run_queue(self) -> int:
        queue = self.backend.queue(self.opts.source)  # type: ignore[arg-type]
        self._reap(queue)
        if not self.opts.once:
            self._install_signal_handlers(queue)
        beat = threading.Thread(target=self._heartbeats, args=(queue,), name="heartbeat", daemon=True)
        beat.start()
        workers = [threading.Thread(target=self._worker, args=(queue,), name=f"worker-{i}")
                   for i in range(max(1, self.opts.concurrency))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self._stop.set()
        queue.close()
        return self.counts.exit_code()

    def _install_signal_handlers(self, queue: Any) -> None:
        def stop(signum: int, _frame: Any) -> None:
            self.log.info("stopping", signal=signum)
            self._stop.set()
            queue.interrupt()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)

    def _heartbeats(self, queue: Any) -> None:
        interval = max(0.05, min(self.settings.lease_s / 3, 10.0))
        while not self._stop.wait(interval):
            with self._active_lock:
                active = list(self._active)
            for lease, cancelled in active:
                try:
                    queue.heartbeat(lease)
                except LeaseLost:
                    cancelled.set()
                    self.log.info("lease_lost", task=lease.id, queue=queue.name)

    def _worker(self, queue: Any) -> None:
        last_reap = time.monotonic()
        while not self._stop.is_set():
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
                if getattr(queue, "next_due_ms", None):
                    wait = min(wait, max(0.01, (queue.next_due_ms - now_ms()) / 1000))
                queue.wait(wait)
                continue
            self._handle(queue, leases)

    def _reap(self, queue: Any) -> None:
        """Hand back the leases of dead or late workers; those on their last attempt go to failed/."""
        reaped = queue.reap()
        if reaped["requeued"] or reaped["failed"]:
            self.log.info("reaped", queue=queue.name, **reaped)
        if reaped["failed"]:
            self.alerts.reaped_to_failed(queue.name, reaped["failed"])

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
        cancelled = threading.Event()
        entries = [(lease, cancelled) for lease in leases]
        with self._active_lock:
            self._active.update(entries)
        try:
            tasks = [lease.doc for lease in leases]
            outcomes, ms = self._run_batch(tasks, cancelled)
            finished = []
            for lease, outcome in zip(leases, outcomes, strict=True):
                if lease.lost.is_set():
                    self.counts.dropped += 1
                    self.log.info("dropped", task=lease.id, queue=queue.name, reason="lease lost")
                    continue
                try:
                    if isinstance(outcome, BaseException):
                        self._fail(queue, lease, outcome, ms)
                    elif isinstance(outcome, Hold):
                        self._trace(outcome.task, ms, None)
                        queue.hold(lease, outcome.task, outcome.reason)
                        self.counts.held += 1
                        self.log.info("held", task=lease.id, queue=queue.name, reason=outcome.reason)
                    else:
                        self._trace(outcome, ms, None)
                        finished.append((lease, outcome))
                except LeaseLost:
                    self.counts.dropped += 1
                    self.log.info("dropped", task=lease.id, queue=queue.name, reason="lease lost")
            self._emit([doc for _, doc in finished])
            for lease, doc in finished:
                try:
                    queue.ack(lease, self._kept_in_done(lease, doc))
                    self.counts.ok += 1
                    self.log.debug("done", task=lease.id, queue=queue.name, ms=ms)
                except LeaseLost:
                    self.counts.dropped += 1
                    self.log.info("dropped", task=lease.id, queue=queue.name, reason="lease lost at ack")
        finally:
            with self._active_lock:
                self._active.difference_update(entries)

    def _kept_in_done(self, lease: Any, doc: taskmod.Task) -> taskmod.Task | None:
        """The copy done/ keeps (None: the task as claimed): the final form when the task ends here,
        the claimed form when it went on to another queue; without its content either way."""
        final = lease.doc if self.opts.dest else doc
        kept = without_content(final, self._content_fields) if self._content_fields else None
        if kept is not None:
            return kept
        return None if self.opts.dest else doc

    def _fail(self, queue: Any, lease: Any, exc: BaseException, ms: float) -> None:
        error = _error_text(exc)
        doc = lease.doc
        self._trace(doc, ms, error, exc)
        permanent = isinstance(exc, PermanentError) or not _is_temporary(exc)
        state = queue.nack(lease, error, permanent=permanent, doc=doc)
        if state == "failed":
            self.counts.failed += 1
            self.log.error("failed", task=lease.id, queue=queue.name, type=doc.get("type"), error=error)
            self.alerts.task_failed(doc, queue.name, error)
        else:
            self.counts.retried += 1
            self.log.warning("retry", task=lease.id, queue=queue.name, type=doc.get("type"), error=error,
                             attempts=doc.get("meta", {}).get("attempts"))

    def run(self) -> int:
        started = time.perf_counter()
        code = self.run_queue() if self.opts.source else self.run_stdin()
        c = self.counts
        self.log.info("run_finished", source=self.opts.source or "stdin", dest=self.opts.dest or "stdout",
                      ok=c.ok, held=c.held, retried=c.retried, failed=c.failed, dropped=c.dropped,
                      bad_lines=c.bad_lines, ms=round((time.perf_counter() - started) * 1000, 1))
        return code
