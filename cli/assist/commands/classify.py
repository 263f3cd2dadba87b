"""`assist classify`: route tasks (rules, then the intent model), and train, evaluate and explain it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ._common import load_config, print_json
from ._stage_options import run_stage, stage_options


@click.group(invoke_without_command=True)
@stage_options
@click.pass_context
def classify(ctx: click.Context, **options: Any) -> None:
    """Decide each task's route: the first matching rule in assist.toml, else the intent model (MiniLM
    embeddings and a trained head), else "fallback", which holds the task for a person.

    Every decision keeps its evidence in the task's `intent` (who decided, scores, the threshold).

    \b
    Examples:
      assist ingest imap --once | assist classify | assist act
      assist classify --from inbox --to act --follow
      assist classify explain --text "can you move my dentist appointment"
      assist classify train clinc150/train.jsonl --val val.jsonl --out intent.npz
    """
    if ctx.invoked_subcommand is None:
        from ..stages.classify import ClassifyStage

        sys.exit(run_stage(ClassifyStage(load_config()), **options))


def _load_jsonl(path: Path) -> tuple[list[str], list[str]]:
    import orjson

    texts, labels = [], []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            texts.append(str(row["text"]))
            labels.append(str(row["label"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise click.UsageError(f"{path}: line {number}: expected {{\"text\": ..., \"label\": ...}}") from None
    return texts, labels


@classify.command()
@click.argument("train_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--val", "val_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled examples to fit the threshold on (default: a tenth of TRAIN_FILE held out).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The model file.")
@click.option("--c", "c", type=float, default=10.0, show_default=True, help="Inverse regularisation strength.")
def train(train_file: Path, val_file: Path | None, out: Path, c: float) -> None:
    """Train the intent model on labelled JSON lines ({"text", "label"}; label "oos" = out of scope).

    \b
    Example:
      assist classify train train.jsonl --val val.jsonl --out ~/assist/intent.npz
    """
    from ..decide.embedder import shared
    from ..decide.intent import train as fit

    texts, labels = _load_jsonl(train_file)
    embedder = shared()
    val_vectors, val_labels = None, None
    if val_file:
        val_texts, val_labels = _load_jsonl(val_file)
        val_vectors = embedder.embed(val_texts)
    model = fit(embedder.embed(texts), labels, val_vectors, val_labels, name=out.stem, c=c)
    model.save(out)
    click.echo(f"trained {out}: {len(model.classes)} routes, {model.meta['examples']} examples, "
               f"threshold {model.threshold:.2f}")


@classify.command("eval")
@click.argument("test_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "model_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(test_file: Path, model_file: Path, as_json: bool) -> None:
    """Accuracy, macro-F1, out-of-scope recall and precision, and the most confused pairs.

    \b
    Example:
      assist classify eval test.jsonl --model intent.npz
    """
    from ..decide.embedder import shared
    from ..decide.intent import IntentModel
    from ..decide.intent import evaluate as score

    texts, labels = _load_jsonl(test_file)
    result = score(IntentModel.load(model_file), shared().embed(texts), labels)
    if as_json:
        print_json(result)
        return
    for key in ("examples", "in_scope_accuracy", "macro_f1", "oos_recall", "oos_precision", "threshold"):
        click.echo(f"{key:18} {result[key]}")
    for pair in result["most_confused"]:
        click.echo(f"  {pair['count']:4}  {pair['true']} -> {pair['predicted']}")


@classify.command()
@click.option("--text", default=None, help="Explain the decision for this text.")
@click.argument("task_id", required=False)
def explain(text: str | None, task_id: str | None) -> None:
    """Show how a text or a queued task would be routed: rules, model scores, threshold.

    \b
    Examples:
      assist classify explain --text "unsubscribe me from this list"
      assist classify explain 01JD3K
    """
    from ..decide.engine import DecisionEngine

    if bool(text) == bool(task_id):
        raise click.UsageError("give --text TEXT or a task id")
    config = load_config()
    if task_id:
        from ..queue.admin import resolve

        backend = config.backend()
        info = resolve(backend, task_id)
        _, task = backend.queue(info.queue, create=False).get(info.id)
    else:
        task = {"id": "explain", "type": "text", "data": {"text": text}}
    [intent] = DecisionEngine(config).decide([task])
    print_json(intent)
