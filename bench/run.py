"""The AI orchestrator's costs, in one run, against llama-cpp-python called directly (the anchor).

Run by `scripts/bench run`. Needs the embedded model: it is pulled into ./models/ when missing.
1. Generation: the same prompts through assist's run stage (warm, in process) and through
   `Llama.create_chat_completion` directly, with the same seed and sampling: tokens/s of each and their
   ratio (target >= 0.95). Also the wall time of the `assist run` command over the same tasks (cold
   process, model load included), for reference.
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

REPO = Path(__file__).resolve().parents[1]
ASSIST = str(Path(sys.executable).parent / "assist")
FIXTURES = REPO / "tests" / "fixtures" / "memory"
SHARED = REPO.parent / "shared" / "data" / "banking77" / "train.jsonl"
SUBJECTS = ["Lunch on Friday", "Invoice 4471 overdue", "Server down in production", "Your parcel is on its way",
            "Weekly newsletter: ten tips", "Re: contract draft", "Dentist appointment reminder",
            "Team offsite planning", "Password reset requested", "Holiday photos"]


def setup_home(root: Path) -> Path:
    from assist.ai.pull import EMBEDDED, pull

    gguf = pull(REPO / "models", EMBEDDED, log=lambda m: print(m, file=sys.stderr))
    home = root / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / gguf.name).symlink_to(gguf)
    (home / "assist.toml").write_text('[routes.echo]\ntemplate = "echo"\n[models.embedded]\nbackend = "llamacpp"\n'
                                      'seed = 1\n')
    os.environ["ASSIST_HOME"] = str(home)
    return home


def tasks() -> list[dict]:
    return [{"id": f"01JT{i:022d}", "type": "text", "intent": {"route": "echo"},
             "data": {"text": f"Subject: {s}. Please confirm you received this message and reply soon."}}
            for i, s in enumerate(SUBJECTS)]


def generation(home: Path) -> None:
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
    gguf = home / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    direct = llama_cpp.Llama(model_path=str(gguf), n_ctx=2048, verbose=False,
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
    print(f"generation   assist run {a:7.1f} tokens/s   llama-cpp-python direct {d:7.1f} tokens/s   "
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
    chunks += [c for p in sorted((FIXTURES / "notes").glob("*.md")) for c in file_chunks(p)]
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


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="assist-bench-run-") as tmp:
        home = setup_home(Path(tmp))
        generation(home)
        memory_query(home)


if __name__ == "__main__":
    main()
