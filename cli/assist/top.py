"""`assist top`: a live terminal dashboard (Textual) of the queues, the tasks that need a look, and the
latest errors; with keys to retry, cancel, approve, reject or inspect the selected task.

It reads what `assist serve` reads (`assist.monitor`), once a second, and changes tasks through the same
functions as `assist queue` (`assist.queue.admin`). Fits an 80x24 terminal; works over ssh.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, OptionList, Static

from . import monitor
from .errors import AssistError
from .printable import printable
from .queue import admin
from .task import offered_routes


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"



def cell(value: object) -> Text:
    """A table cell as plain text: a DataTable reads a str as Rich markup, and markup from a mail (a
    subject of `[@click=app.change('approve')]`) would be a link that runs an action of this app."""
    return Text(printable(str(value)), no_wrap=True)


def inspected(task: dict[str, Any]) -> str:
    """A task's whole document as Inspect shows it: indented JSON, with nothing a terminal acts on."""
    import orjson

    from .jsonl import terminal_safe

    return terminal_safe(orjson.dumps(task, option=orjson.OPT_INDENT_2)).decode()


class Inspect(ModalScreen[None]):
    """One task's whole document; any key closes it."""

    BINDINGS = [Binding("escape,q,i,enter", "dismiss", "Close")]  # noqa: RUF012 - Textual's own convention

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="inspect"):
            yield Static(self.text, markup=False)
        yield Footer()


class ConfirmPlan(ModalScreen[bool]):
    """What a held task would run, every argument as it will run, before the person approves it."""

    BINDINGS = [Binding("y", "answer(True)", "Approve"),  # noqa: RUF012 - Textual's own convention
                Binding("n,escape,q", "answer(False)", "Not now")]

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="inspect"):
            yield Static(self.text + "\n\napprove? y approves, n or Esc does not", markup=False)
        yield Footer()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PickRoute(ModalScreen[str | None]):
    """The route for a task that no rule or model placed."""

    BINDINGS = [Binding("escape,q", "dismiss", "Cancel")]  # noqa: RUF012 - Textual's own convention

    def __init__(self, task_id: str, routes: list[str]):
        super().__init__()
        self.task_id, self.routes = task_id, routes

    def compose(self) -> ComposeResult:
        yield Static(f"File {self.task_id} on which route? (Enter picks, Esc cancels)", markup=False)
        yield OptionList(*self.routes, id="routes")
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.routes[event.option_index])


class Top(App[None]):
    TITLE = "assist top"
    CSS = """
    #summary { height: 1; padding: 0 1; background: $boost; }
    #queues { height: 7; }
    #tasks { height: 1fr; min-height: 5; }
    #errors { height: 4; padding: 0 1; color: $warning; }
    #status { height: 1; padding: 0 1; }
    #inspect { padding: 0 1; }
    """
    BINDINGS = [  # noqa: RUF012 - Textual's own convention
        Binding("q", "quit", "Quit"),
        Binding("a", "change('approve')", "Approve"),
        Binding("x", "change('reject')", "Reject"),
        Binding("r", "change('retry')", "Retry"),
        Binding("c", "change('cancel')", "Cancel"),
        Binding("i,enter", "inspect", "Inspect"),
        Binding("tab", "focus_next", "Switch", show=False),
    ]

    def __init__(self, backend: Any, log_folder: Path, interval_s: float = 1.0,
                 config: Callable[[], Any] | None = None, approvals: Any = None, learn: Any = None):
        super().__init__()
        self.backend, self.log_folder, self.interval_s = backend, log_folder, interval_s
        self.approvals, self.learn = approvals, learn
        self.config_now = config or (lambda: None)  # the configuration now (assist.toml may change while top runs)
        self.rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="summary", markup=False)
        yield DataTable(id="queues", cursor_type="none", zebra_stripes=True)
        yield DataTable(id="tasks", cursor_type="row", zebra_stripes=True)
        yield Static("", id="errors", markup=False)
        yield Static("", id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        queues = self.query_one("#queues", DataTable)
        queues.add_columns("queue", "ready", "delay", "run", "held", "done", "failed", "/min")
        tasks = self.query_one("#tasks", DataTable)
        tasks.add_columns("state", "task", "queue", "what", "age")
        tasks.focus()
        self.refresh_data()
        self.set_interval(self.interval_s, self.refresh_data)

    def refresh_data(self) -> None:
        try:
            view = monitor.overview(self.backend, self.log_folder, self.config_now())
        except Exception as exc:  # a spool being created or removed under us: say so, look again soon
            self.query_one("#status", Static).update(f"cannot read the queues: {type(exc).__name__}: {exc}")
            return
        rates = view["rates"]
        running = len(view["running"])
        hosts = ", ".join(f"{host} {n}" for host, n in view["workers_by_host"].items()) or "none"
        self.query_one("#summary", Static).update(
            f"{len(view['queues'])} queue(s) · {running} running · {len(view['held'])} waiting for you · "
            f"{rates['done_per_min']}/min done · {rates['failed_per_min']}/min failed · "
            f"error rate {rates['error_rate'] * 100:.1f}% · workers: {hosts}")
        queues = self.query_one("#queues", DataTable)
        queues.clear()
        for q in view["queues"]:
            d = q["depth"]
            queues.add_row(*map(cell, (q["name"], q["ready"], q["delayed"], d["cur"], d["hold"], d["done"],
                                       d["failed"], q["done_per_min_1m"])))
        if not view["queues"]:
            queues.add_row("no queues yet", "", "", "", "", "", "", "")
        self._fill_tasks(view["running"] + view["held"] + view["failed"])
        lines = [f"{r.get('at', '')[11:19]} {name}: {r.get('event')} {r.get('error', '')}".rstrip()
                 for name, records in view["errors"].items() for r in records]
        self.query_one("#errors", Static).update("\n".join(sorted(lines)[-4:]) or "no recent warnings or errors")

    def _fill_tasks(self, rows: list[dict[str, Any]]) -> None:
        tasks = self.query_one("#tasks", DataTable)
        selected = self.selected_id()
        tasks.clear()
        self.rows = {}
        for row in rows:
            what = row.get("stage") or row.get("info") or ""
            if row.get("route") == "fallback" and row["state"] == "hold":
                what = "needs a route (a): " + what
            if row.get("subject") and row["state"] == "hold":
                what = f"{row['subject']}: {what}"
            look = [n for a in row.get("awaiting", []) for n in a.get("notices", [])]
            if look:  # where a held send really goes, before the subject can push it out of the column
                what = f"look: {'; '.join(look)} | {what}"
            key = f"{row['queue']}/{row['id']}"
            self.rows[key] = row
            tasks.add_row(*map(cell, (row["state"], row["id"][-10:], row["queue"], what[:60], _age(row.get("age_s")))),
                          key=key)
        if selected in self.rows:
            tasks.move_cursor(row=list(self.rows).index(selected))

    def selected_id(self) -> str | None:
        tasks = self.query_one("#tasks", DataTable)
        if not self.rows or tasks.row_count == 0:
            return None
        try:
            key = tasks.coordinate_to_cell_key(tasks.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    def _say(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def action_change(self, verb: str) -> None:
        key = self.selected_id()
        if key is None:
            self._say(f"{verb}: select a task first (arrow keys)")
            return
        row = self.rows[key]
        if verb == "approve" and row["state"] == "hold" and row.get("route") == "fallback":
            routes = offered_routes(self.routes_now(), str(row.get("type", "")))
            if not routes:
                self._say(f"this task needs a route, and assist.toml has none that takes a {row.get('type')}")
                return
            self.push_screen(PickRoute(row["id"], routes), lambda route: self._change(row, verb, route) if route
                             else None)
            return
        if verb == "approve" and row["state"] == "hold" and row.get("awaiting"):
            text = f"{row['id']} ({row['queue']}, {row.get('about') or row.get('type')}) would run:\n" + "\n".join(
                admin.plan_text(row["awaiting"], row["id"]))
            self.push_screen(ConfirmPlan(text), lambda yes: self._change(row, verb, None, row["plan"]) if yes
                             else self._say(f"not approved: {row['id']} stays held"))
            return
        self._change(row, verb, None)

    def routes_now(self) -> dict[str, dict[str, Any]]:
        """The routes configured now, by name."""
        now = self.config_now()
        return now.routes if now is not None else {}

    def _change(self, row: dict[str, Any], verb: str, route: str | None, plan: str | None = None) -> None:
        """`plan`: what names the plan shown (approved only if it is still that one)."""
        try:
            done = admin.change(self.backend, row["id"], verb, row["queue"], route=route, routes=self.routes_now(),
                                approvals=self.approvals, by="top", learn=self.learn, plan=plan)
        except AssistError as exc:
            self._say(f"{verb} refused: {exc}")
        else:
            self._say(f"{verb}: {done['queue']}/{done['id']}" + (f" on route {route}" if route else ""))
        self.refresh_data()

    def action_inspect(self) -> None:
        key = self.selected_id()
        if key is None:
            self._say("inspect: select a task first (arrow keys)")
            return
        row = self.rows[key]
        try:
            shown = admin.show(self.backend, row["id"], row["queue"], self.approvals)
        except AssistError as exc:
            self._say(f"inspect: {exc}")
            return
        self.push_screen(Inspect(inspected(shown)))


def run(backend: Any, log_folder: Path, interval_s: float, config: Callable[[], Any], approvals: Any,
        learn: Any = None) -> None:
    Top(backend, log_folder, interval_s, config, approvals, learn).run()
