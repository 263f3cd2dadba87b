"""The AI orchestrator's costs, in one run, against llama-cpp-python called directly (the anchor).

Run by `scripts/bench run` (`--models smollm2-135m` for one). Each catalog model is pulled into
./models/ when missing.
1. Generation, for each catalog model: the same prompts through assist's run stage (warm, in process)
   and through `Llama.create_chat_completion` directly, with the same seed and sampling: tokens/s of
   each and their ratio (target >= 0.95). Also the wall time of the `assist run` command over the same
   tasks (cold process, model load included), for reference. Then a JSON reply forced by llama.cpp's
   grammar against the same request unconstrained: tokens/s of each and their ratio (aim >= 0.8).
2. Orchestration overhead per task: `prompt` + `run` with max_tokens=1 in a warm worker against the
   direct call with max_tokens=1 (target <= 5 ms per task).
3. Memory query p50 over 10,000 chunks: Banking77 texts from ../shared/data (the committed test fixture
   when that is absent) plus 20 notes; 20 questions, 5 rounds (target <= 20 ms).
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assist.ai.pull import Packaged

REPO = Path(__file__).resolve().parents[1]
ASSIST = str(Path(sys.executable).parent / "assist")
FIXTURES = REPO / "tests" / "fixtures" / "memory"
SHARED = REPO.parent / "shared" / "data" / "banking77" / "train.jsonl"
SUBJECTS = ["Lunch on Friday", "Invoice 4471 overdue", "Server down in production", "Your parcel is on its way",
            "Weekly newsletter: ten tips", "Re: contract draft", "Dentist appointment reminder",
            "Team offsite planning", "Password reset requested", "Holiday photos"]


def setup_home(root: Path, item: Packaged) -> Path:
    from assist.ai.pull import pull

    gguf = pull(REPO / "models", item, log=lambda m: print(m, file=sys.stderr))
    home = root / item.name
    (home / "models").mkdir(parents=True)
    (home / "models" / gguf.name).symlink_to(gguf)
    (home / "assist.toml").write_text('[routes.echo]\ntemplate = "echo"\n[models.embedded]\nbackend = "llamacpp"\n'
                                      f'path = "{item.name}"\nseed = 1\n')
    os.environ["ASSIST_HOME"] = str(home)
    return home


def tasks() -> list[dict]:
    return [{"id": f"01JT{i:022d}", "type": "text", "intent": {"route": "echo"},
             "data": {"text": f"Subject: {s}. Please confirm you received this message and reply soon."}}
            for i, s in enumerate(SUBJECTS)]


def generation(home: Path, item: Packaged) -> None:
    import llama_cpp

    from assist.ai.backends.llamacpp import REPEAT_PENALTY, default_threads
    from assist.ai.models import Models
    from assist.ai.prompting import PromptBuilder
    from assist.ai.running import run_prompt
    from assist.config_file import load

    config = load(home)
    models = Models(config)
    builder = PromptBuilder(config, models)
    prompts = [builder.build(t) for t in tasks()]
    gguf = home / "models" / item.file
    direct = llama_cpp.Llama(model_path=str(gguf), n_ctx=models.get("embedded").context, verbose=False,
                             n_threads=default_threads(gguf))  # the same threads: the ratio is assist's overhead
    run_prompt(prompts[0], models)  # warm both
    direct.create_chat_completion(messages=prompts[0]["messages"], max_tokens=8)

    def via_direct() -> tuple[int, float]:
        started, tokens = time.perf_counter(), 0
        for p in prompts:
            out = direct.create_chat_completion(messages=p["messages"], max_tokens=64, temperature=0, seed=1,
                                                repeat_penalty=REPEAT_PENALTY)
            tokens += out["usage"]["completion_tokens"]
        return tokens, time.perf_counter() - started

    def via_assist() -> tuple[int, float]:
        started, tokens = time.perf_counter(), 0
        for p in prompts:
            tokens += run_prompt({**p, "options": {"temperature": 0, "max_tokens": 64}}, models)["usage"][
                "completion_tokens"]
        return tokens, time.perf_counter() - started

    rates: dict[str, list[float]] = {"direct": [], "assist": []}
    for _ in range(3):
        for name, fn in (("direct", via_direct), ("assist", via_assist)):
            tokens, seconds = fn()
            rates[name].append(tokens / seconds)
    d, a = statistics.median(rates["direct"]), statistics.median(rates["assist"])
    print(f"{item.name}\ngeneration   assist run {a:7.1f} tokens/s   llama-cpp-python direct {d:7.1f} tokens/s   "
          f"ratio {a / d:.3f} (target >= 0.95)")

    # overhead per task with max_tokens=1: prompt building, model selection and parsing around one call.
    # The direct calls use the very llama.cpp instance assist loaded, interleaved with assist's, and every
    # call has a prompt other than the one before it (llama.cpp reuses the evaluated prefix of the
    # previous prompt), so the difference is assist's own work, not a cache state.
    shared, _ = models.get("embedded").model()
    raw = tasks()
    n = 200
    direct_s = assist_s = 0.0
    for i in range(n):
        started = time.perf_counter()
        shared.create_chat_completion(messages=prompts[i % len(prompts)]["messages"], max_tokens=1,
                                      repeat_penalty=REPEAT_PENALTY)
        direct_s += time.perf_counter() - started
        started = time.perf_counter()
        prompt = builder.build(raw[(i + 5) % len(raw)])
        prompt["options"]["max_tokens"] = 1
        run_prompt(prompt, models)
        assist_s += time.perf_counter() - started
    direct_s, assist_s = direct_s / n, assist_s / n
    print(f"overhead     prompt+run with max_tokens=1: {assist_s * 1000:.2f} ms/task, direct {direct_s * 1000:.2f} "
          f"ms/task: {1000 * (assist_s - direct_s):.2f} ms per task (target <= 5 ms)")

    lines = b"".join(json.dumps({**p_task, "prompt": p}).encode() + b"\n" for p_task, p in zip(raw, prompts,
                                                                                             strict=True))
    started = time.perf_counter()
    done = subprocess.run([ASSIST, "run"], input=lines, capture_output=True)
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr.decode()
    print(f"cold command `assist run` over {len(raw)} tasks: {wall:.2f} s wall (process start and model load "
          "included)")


def memory_query(home: Path) -> None:
    from assist.ai.memory import Chunk, Memory, file_chunks
    from assist.config_file import load

    if SHARED.exists():
        texts = [json.loads(line)["text"] for line in SHARED.read_text().splitlines()][:10_000]
        where = str(SHARED)
    else:
        texts = gzip.decompress((FIXTURES / "banking77-10000.txt.gz").read_bytes()).decode().splitlines()
        where = "the test fixture (../shared/data is absent)"
    memory = Memory(load(home))
    chunks = [Chunk(f"b{i}", t, "banking77", "", 0) for i, t in enumerate(texts)]
    chunks += [c for p in sorted((FIXTURES / "notes").glob("*.md")) for c in file_chunks(p)[0]]
    started = time.perf_counter()
    memory.add(chunks)
    added = time.perf_counter() - started
    questions = [json.loads(line) for line in (FIXTURES / "questions.jsonl").read_text().splitlines()]
    memory.query("warm up", k=4)
    timings, hits = [], 0
    for _ in range(5):
        for q in questions:
            started = time.perf_counter()
            found = memory.query(q["question"], k=4)
            timings.append(time.perf_counter() - started)
            hits += Path(found[0]["source"]).stem == q["note"]
    timings.sort()
    print(f"memory       {len(chunks)} chunks from {where}: added in {added:.1f} s "
          f"({len(chunks) / added:.0f} chunks/s); query p50 {timings[len(timings) // 2] * 1000:.1f} ms, "
          f"p95 {timings[int(len(timings) * 0.95)] * 1000:.1f} ms (target p50 <= 20 ms); "
          f"top-1 right {hits}/{len(timings)}")


TRIAGE_SCHEMA = {"type": "object", "required": ["summary", "category", "urgency"], "additionalProperties": False,
                 "properties": {"summary": {"type": "string", "maxLength": 600},
                                "category": {"enum": ["personal", "work", "newsletter", "notification", "finance",
                                                      "shopping", "spam", "other"]},
                                "urgency": {"enum": ["low", "normal", "high"]}}}


def json_speed(home: Path, item: Packaged) -> None:
    """Tokens/s of a JSON reply forced by the grammar, written unforced, and as assist asks for it by default
    for this model (`json_grammar`: "fallback" writes unforced and forces only a reply that does not
    validate), over the same ten requests."""
    from dataclasses import replace

    from assist.ai import output
    from assist.ai.backends.base import Options
    from assist.ai.models import Models
    from assist.config_file import load

    backend = Models(load(home)).get("embedded")
    default = backend.json_grammar  # type: ignore[attr-defined]
    ask = ('Describe this email in JSON with "summary" (one sentence), "category" (personal, work, newsletter, '
           'notification, finance, shopping, spam or other) and "urgency" (low, normal or high). Email: ')
    prompts = [[{"role": "user", "content": ask + t["data"]["text"]}] for t in tasks()]
    backend.complete(prompts[0], Options(max_tokens=4))  # warm
    rates: dict[str, float] = {}
    valid: dict[str, int] = {}
    ways = (("unforced", "always", None), ("grammar", "always", TRIAGE_SCHEMA),
            (f"assist ({default})", default, TRIAGE_SCHEMA))
    for name, mode, schema in ways:
        backend.json_grammar = mode  # type: ignore[attr-defined]
        tokens, seconds, valid[name] = 0, 0.0, 0
        for messages in prompts:
            reply = backend.complete(messages, replace(Options(temperature=0, max_tokens=96), schema=schema))
            tokens += reply.completion_tokens
            seconds += (reply.model_ms or 0) / 1000
            try:
                output.parse(reply.text, TRIAGE_SCHEMA)
                valid[name] += 1
            except output.OutputError:
                pass
        rates[name] = tokens / seconds
    backend.json_grammar = default  # type: ignore[attr-defined]
    line = ", ".join(f"{name} {rate:.1f} tokens/s ({valid[name]}/{len(prompts)} valid)" for name, rate in rates.items())
    print(f"json         {item.name}: {line}; grammar/unforced {rates['grammar'] / rates['unforced']:.2f}, "
          f"assist/unforced {rates[ways[2][0]] / rates['unforced']:.2f} (aim >= 0.8)")


def main() -> None:
    import argparse

    from assist.ai.pull import CATALOG, find

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(c.name for c in CATALOG), help="catalog names, comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assist-bench-run-") as tmp:
        for name in args.models.split(","):
            item = find(name)
            home = setup_home(Path(tmp), item)
            generation(home, item)
            json_speed(home, item)
        memory_query(home)


if __name__ == "__main__":
    main()
