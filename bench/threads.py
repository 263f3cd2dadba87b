"""How llama.cpp's threads fare on an idle and on a busy machine (run by `scripts/bench threads`, about
two minutes per model; `--models NAME` for one): tokens/s of each catalog model (pulled into ./models/
when missing) with two threads and one, OpenMP's default wait policy (spinning) and PASSIVE, idle and with two CPU-bound
processes beside it. Each measurement is its own process (OpenMP reads its policy when it loads). The
defaults in assist/ai/backends/llamacpp.py (default_threads, OMP_WAIT_POLICY) were chosen on these.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import sys, time
from llama_cpp import Llama
m = Llama(model_path=sys.argv[1], n_ctx=512, n_threads=int(sys.argv[2]), verbose=False, seed=1)
msgs = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]
m.create_chat_completion(msgs, max_tokens=8)
rates = []
for _ in range(3):
    t = time.perf_counter()
    r = m.create_chat_completion(msgs, max_tokens=96, temperature=0.0)
    rates.append(r["usage"]["completion_tokens"] / (time.perf_counter() - t))
print(sorted(rates)[1])
"""


def measure(gguf: Path, threads: int, policy: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", PROBE, str(gguf), str(threads)], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    return float(out.stdout.strip())


def main() -> None:
    import argparse

    from assist.ai.pull import CATALOG, find, pull

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(c.name for c in CATALOG), help="catalog names, comma-separated")
    for name in parser.parse_args().models.split(","):
        table(pull(REPO / "models", find(name), log=lambda m: print(m, file=sys.stderr)))


def table(gguf: Path) -> None:
    from assist.ai.backends.llamacpp import default_threads

    print(f"\n{gguf.name}")
    cases = [(2, None), (2, "PASSIVE"), (1, None)]
    rows = {case: [measure(gguf, *case)] for case in cases}
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        for case in cases:
            rows[case].append(measure(gguf, *case))
    finally:
        for hog in hogs:
            hog.kill()
    print(f"{'threads':>8} {'OpenMP waits':>14} {'idle tok/s':>11} {'busy tok/s':>11}")
    for (threads, policy), (idle, busy) in rows.items():
        print(f"{threads:>8} {policy or 'spinning':>14} {idle:>11.1f} {busy:>11.1f}")
    chosen = default_threads(gguf)
    print(f"assist's choice for this model: {chosen} thread{'s' if chosen > 1 else ''}"
          f"{', waiting passively' if chosen > 1 else ''} (one for a model under 400 MB, else every core)")


if __name__ == "__main__":
    main()
