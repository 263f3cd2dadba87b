"""What the models write, measured (run by `scripts/bench quality`): 40 real mails (bench/data/quality,
SpamAssassin's public corpus: bench/data/quality/README.md) through the real `assist prompt | assist run`
with the default triage template, for each catalog model side by side (pulled into ./models/ when
missing; `--models smollm2-135m` for one; `--memory` adds runs with a person's notes in memory, with the
template's similarity floor and without it).

For each message the evaluation set names the key facts a summary must carry (each a list of
alternatives, matched as lower-case substrings), the categories that are right for it, and whether it
needs a reply. Reported per model:
- schema-valid: the share of replies that parsed as the template's JSON (after the one repair round;
  the share that needed it is shown too);
- key-fact recall: the share of all key facts found in the summaries;
- grounding: the share of the names, numbers and dates in the summaries (capitalised words not opening
  a sentence, and numbers) that occur in the message: the hallucination proxy (ai/grounding.py, the
  check `assist run` makes too), and the share of mails `assist run` flagged (result.ungrounded: the note
  says so);
- category and needs_reply accuracy; seconds per email (model load included) and peak memory.
Targets for the default model: grounding >= 0.9, key-fact recall >= 0.7, needs_reply >= 0.85,
schema-valid 100%.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data" / "quality"
ASSIST = str(Path(sys.executable).parent / "assist")


def tasks() -> list[dict[str, Any]]:
    from assist.ingest.mail import parse_message
    from assist.task import normalize

    out = []
    for row in labels():
        data = parse_message((DATA / row["file"]).read_bytes())
        task = normalize({"type": "email.received", "data": data}, source="bench")
        task["intent"] = {"route": "triage", "by": "bench"}
        task["meta"]["bench_file"] = row["file"]
        out.append(task)
    return out


def labels() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "labels.jsonl").read_text().splitlines() if line.strip()]


def score(rows: list[dict[str, Any]], done: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from assist.ai.grounding import grounded, specifics
    from assist.ingest.mail import parse_message

    valid = repaired = flagged = facts = hit = named = named_ok = category = reply = 0
    misses: list[str] = []
    for row in rows:
        task = done.get(row["file"])
        result = (task or {}).get("result") or {}
        parsed = result.get("parsed")
        facts += len(row["facts"])
        if not isinstance(parsed, dict) or not isinstance(parsed.get("summary"), str):
            continue
        valid += 1
        repaired += bool(result.get("repaired"))
        flagged += bool(result.get("ungrounded"))  # `assist run` found it naming what the mail does not
        summary = parsed["summary"].lower()
        got = sum(any(alt in summary for alt in fact) for fact in row["facts"])
        hit += got
        data = parse_message((DATA / row["file"]).read_bytes())
        headers = data.get("headers") if isinstance(data.get("headers"), dict) else {}
        source = " ".join([*(str(data.get(k, "")) for k in ("from", "subject", "body_text")),
                           *map(str, headers.values())]).lower()
        tokens = specifics(parsed["summary"])
        named += len(tokens)
        unfounded = [t for t in tokens if not grounded(t, source)]
        named_ok += len(tokens) - len(unfounded)
        if unfounded:
            misses.append(f"{row['file']}: {', '.join(unfounded[:4])}")
        category += parsed.get("category") in row["category"]
        reply += parsed.get("needs_reply") is row["needs_reply"]
    n = len(rows)
    return {"messages": n, "schema_valid": valid / n, "repaired": repaired / n, "flagged": flagged / n,
            "key_fact_recall": hit / facts,
            "grounding": named_ok / named if named else 1.0, "names_numbers_dates": named,
            "category_accuracy": category / n, "needs_reply_accuracy": reply / n, "ungrounded": misses}


NOTES = REPO / "tests" / "fixtures" / "memory" / "notes"  # a person's 20 notes: the dentist, taxes, a recipe...
MEMORY_RUNS = {"none": "no notes", "floor": "20 notes, the template's similarity floor",
               "nofloor": "20 notes, no floor (the 2 nearest always)"}


def one(model: str, memory: str = "none") -> dict[str, Any]:
    """The evaluation through `assist prompt | assist run` with `model` as the embedded model; with
    memory "floor" or "nofloor", a memory of a person's notes (none about these mails) is there for the
    triage template's context, with its similarity floor or without."""
    from assist.ai.pull import find, pull

    item = find(model)
    gguf = pull(REPO / "models", item, log=lambda m: print(m, file=sys.stderr))
    rows = labels()
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        home = Path(tmp)
        (home / "models").mkdir()
        (home / "models" / gguf.name).symlink_to(gguf)
        (home / "assist.toml").write_text((REPO / "assist.toml").read_text() + (
            f'\n[models.embedded]\nbackend = "llamacpp"\npath = "{item.name}"\nseed = 1\n') + (
            "\n[routes.triage.context]\nmax_distance = 2.0\n" if memory == "nofloor" else ""))
        env = {**os.environ, "ASSIST_HOME": str(home)}
        if memory != "none":
            subprocess.run([ASSIST, "memory", "add", str(NOTES)], capture_output=True, env=env, check=True)
        lines = b"".join(json.dumps(t).encode() + b"\n" for t in tasks())
        started = time.perf_counter()
        prompted = subprocess.run([ASSIST, "prompt"], input=lines, capture_output=True, env=env, check=True)
        ran = subprocess.run([ASSIST, "run"], input=prompted.stdout, capture_output=True, env=env)
        seconds = time.perf_counter() - started
    done = {}
    for line in ran.stdout.splitlines():
        task = json.loads(line)
        done[task["meta"]["bench_file"]] = task
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # MiB: the largest child, `assist run`
    with_context = sum(bool((t.get("prompt") or {}).get("context")) for t in done.values())
    failure = ran.stderr.decode(errors="replace").strip().splitlines()[-1:] if ran.returncode else []
    return {"model": item.name, "memory": memory, **score(rows, done), "seconds_per_email": seconds / len(rows),
            "peak_mib": peak, "run_exit": ran.returncode, "run_error": failure[0][:300] if failure else "",
            "with_context": with_context}


def report(result: dict[str, Any], default: bool) -> None:
    def mark(value: float, target: float) -> str:
        return f"{value:.2f} ({'met' if value >= target else 'NOT met'}: >= {target})" if default else f"{value:.2f}"

    memory = f", memory: {MEMORY_RUNS[result['memory']]} ({result['with_context']} prompts with notes)" \
        if result["memory"] != "none" else ""
    print(f"{result['model']}{' (the default)' if default else ''}: {result['messages']} mails, "
          f"{result['seconds_per_email']:.1f} s/email, peak {result['peak_mib']:.0f} MiB{memory}")
    if result["run_exit"]:  # the figures below count the mails it did not answer as wrong
        print(f"  `assist run` FAILED (exit {result['run_exit']}): {result.get('run_error') or 'no message'}")
    print(f"  schema-valid {result['schema_valid']:.0%} (repaired {result['repaired']:.0%}), "
          f"key-fact recall {mark(result['key_fact_recall'], 0.7)}, grounding {mark(result['grounding'], 0.9)} "
          f"over {result['names_numbers_dates']} names/numbers/dates; flagged by `assist run` for naming what "
          f"the mail does not: {result.get('flagged', 0):.0%} of the mails")
    print(f"  category {result['category_accuracy']:.2f}, needs_reply {mark(result['needs_reply_accuracy'], 0.85)}")
    for line in result["ungrounded"][:8]:
        print(f"    not in the message: {line}")


def main() -> None:
    from assist.ai.pull import CATALOG, DEFAULT

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(c.name for c in CATALOG), help="catalog names, comma-separated")
    parser.add_argument("--memory", action="store_true",
                        help="also run each model with a person's notes in memory, with the similarity floor and "
                             "without (does context the mail is not about leak into summaries?)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child run: one model, JSON out
    parser.add_argument("--memory-run", default="none", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.memory_run)))
        return
    results = []
    for name in args.models.split(","):
        for memory in (MEMORY_RUNS if args.memory else ["none"]):
            # each run in its own process: its peak memory is its own
            child = subprocess.run([sys.executable, __file__, "--one", name, "--memory-run", memory],
                                   capture_output=True, text=True)
            if child.returncode != 0:
                print(f"{name}: the run failed: {child.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                continue
            results.append(json.loads(child.stdout))
            report(results[-1], name == DEFAULT.name)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if not results:
        sys.exit(1)


if __name__ == "__main__":
    main()
