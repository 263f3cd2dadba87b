// The assist dashboard: the overview from /api/overview, refreshed whenever /api/events says something
// changed. Everything shown comes from task data (email subjects...) and is inserted as text, never HTML,
// without direction controls: an override in a subject turns the rest of its row around as it is shown
// ("elpmaxe.proc@ssob morf" as "from boss@corp.example"); right-to-left text shows as it should without them.

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const DIRECTION_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;  // printable.py's BIDI_CONTROLS
const plain = (text) => String(text ?? "").replace(DIRECTION_CONTROLS, "");

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = plain(text);
  if (cls) td.className = cls;
  return td;
}

function rows(tbody, items, build, emptyText, columns) {
  tbody.replaceChildren();
  if (!items.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell(emptyText);
    td.colSpan = columns;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const item of items) tbody.append(build(item));
}

function button(label, cls, verb, task) {
  const b = document.createElement("button");
  b.textContent = label;
  b.className = cls;
  b.dataset.testid = `${verb}-${task.id}`;
  b.addEventListener("click", () => act(verb, task));
  return b;
}

async function act(verb, task, route) {
  let url = `/api/tasks/${encodeURIComponent(task.id)}/${verb}?queue=${encodeURIComponent(task.queue)}`;
  if (route) url += `&route=${encodeURIComponent(route)}`;
  if (verb === "approve" && task.plan) url += `&plan=${encodeURIComponent(task.plan)}`;  // only the plan shown
  const response = await fetch(url, { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
  const body = await response.json();
  say(response.ok ? `${verb}: ${task.id}${route ? " on route " + route : ""}` : `${verb} refused: ${body.error}`);
  refresh();
}

function say(text) {
  $("message").textContent = plain(text);
  clearTimeout(say.timer);
  say.timer = setTimeout(() => ($("message").textContent = ""), 4000);
}

function age(seconds) {
  if (seconds == null) return "";
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

// A task no rule or model placed: a person picks its route, then it goes on as if classified so.
// The choice survives the redraws that live updates cause.
const chosen = new Map();
function routePicker(task, routes) {
  if (!routes.length) {  // assist.toml has no route that takes this task's type: nothing to pick
    const none = document.createElement("span");
    none.dataset.testid = `no-route-${task.id}`;
    none.textContent = `no route takes a ${plain(task.type)} `;
    return [none];
  }
  const select = document.createElement("select");
  select.dataset.testid = `route-${task.id}`;
  for (const name of routes) select.append(new Option(name, name));
  if (chosen.has(task.id)) select.value = chosen.get(task.id);
  select.addEventListener("change", () => chosen.set(task.id, select.value));
  const file = document.createElement("button");
  file.textContent = "file";
  file.className = "approve";
  file.dataset.testid = `file-${task.id}`;
  file.addEventListener("click", () => act("approve", task, select.value));
  return [select, file];
}

function render(o) {
  rows($("queues"), o.queues, (q) => {
    const tr = document.createElement("tr");
    tr.dataset.queue = q.name;
    tr.append(cell(q.name), cell(q.ready, "num"), cell(q.delayed, "num"), cell(q.depth.cur, "num"),
      cell(q.depth.hold, "num"), cell(q.depth.done, "num"), cell(q.depth.failed, "num"), cell(q.done_per_min_1m, "num"));
    return tr;
  }, "no queues yet", 8);
  $("held-count").textContent = o.held.length ? `(${o.held.length})` : "";
  rows($("held"), o.held, (t) => {
    const tr = document.createElement("tr");
    tr.dataset.task = t.id;
    const would = (t.awaiting || []).map((a) => `${a.type} ${JSON.stringify(a.args)}`
      + (a.notices ? ` — look: ${a.notices.join("; ")}` : "")).join("; ") || t.info;  // where it really goes
    const buttons = cell("");
    if (t.route === "fallback") buttons.append(...routePicker(t, t.routes ?? o.routes), button("reject", "reject", "reject", t));
    else buttons.append(button("approve", "approve", "approve", t), button("reject", "reject", "reject", t));
    tr.append(cell(t.id, "id"), cell(t.queue), cell(t.subject ?? t.type), cell(would), buttons);
    return tr;
  }, "nothing is waiting for you", 5);
  rows($("running"), o.running, (t) => {
    const tr = document.createElement("tr");
    tr.append(cell(t.id, "id"), cell(t.queue), cell(t.owner), cell(t.stage), cell(age(t.age_s)));
    return tr;
  }, "nothing is running", 5);
  rows($("failed"), o.failed, (t) => {
    const tr = document.createElement("tr");
    tr.dataset.task = t.id;
    const buttons = cell("");
    buttons.append(button("retry", "approve", "retry", t));
    tr.append(cell(t.id, "id"), cell(t.queue), cell(t.last_error), buttons);
    return tr;
  }, "no failed tasks", 4);
  const errors = Object.entries(o.errors).flatMap(([component, records]) => records.map((r) => ({ component, ...r })));
  errors.sort((a, b) => (a.at < b.at ? 1 : -1));
  if (!errors.length) errors.push({ at: "", component: "", event: "no recent warnings or errors", level: "none" });
  $("errors").replaceChildren(...errors.slice(0, 15).map((r) => {
    const li = document.createElement("li");
    li.className = `level-${r.level}`;
    li.textContent = plain(r.level === "none" ? r.event : `${r.at} ${r.component}: ${r.event}${r.error ? " — " + r.error : ""}`);
    return li;
  }));
  const rate = o.rates;
  $("rates").textContent = `${rate.done_per_min}/min done · ${rate.failed_per_min}/min failed · ${rate.retries_per_min}/min retried · error rate ${(rate.error_rate * 100).toFixed(1)}%`;
  const hosts = Object.entries(o.workers_by_host || {}).map(([host, n]) => `${host} ${n}`).join(", ");
  $("workers").textContent = `workers: ${hosts || "none"}`;
}

async function refresh() {
  const response = await fetch("/api/overview", { credentials: "same-origin" });
  if (response.status === 401) {
    location.reload();
    return;
  }
  const text = await response.text();
  if (text !== refresh.last) render(JSON.parse(text));  // nothing changed: leave the page as it is
  refresh.last = text;
}

let pending = null;
function soon() {
  if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150);
}

function activity(event) {
  const li = document.createElement("li");
  li.textContent = plain(event.kind === "task"
    ? `${new Date().toLocaleTimeString()} ${event.queue}/${event.id}: ${event.previous ?? "·"} → ${event.state}`
    : `${new Date().toLocaleTimeString()} ${event.record.component}: ${event.record.event}`);
  const list = $("activity");
  list.prepend(li);
  while (list.children.length > 30) list.lastChild.remove();
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/events`);
  ws.addEventListener("open", () => { $("live").textContent = "live"; $("live").className = "on"; });
  ws.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    if (event.kind !== "hello") activity(event);
    soon();
  });
  ws.addEventListener("close", () => {
    $("live").textContent = "reconnecting…";
    $("live").className = "off";
    setTimeout(connect, 2000);
  });
}

refresh();
connect();
