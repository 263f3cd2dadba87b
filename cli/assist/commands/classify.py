"""`assist classify`: route tasks (rules, then the intent model), and train, evaluate and explain it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ._common import load_config, print_json
from ._stage_options import run_stage, stage_options

POSITIVE = click.FloatRange(min=0, min_open=True)


ACCOUNT = click.option("--account", default=None, metavar="NAME",
                       help="Only the account of [actions.imap.accounts.NAME] ('' for [actions.imap]'s; default: "
                            "every account configured).")


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
    if not texts:
        raise click.UsageError(f"{path}: no examples (JSON lines of {{\"text\": ..., \"label\": ...}})")
    return texts, labels


@classify.command()
@click.argument("train_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--val", "val_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="More labelled examples (a validation split): trained on and cross-validated with the rest.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The model file.")
@click.option("--c", "c", type=POSITIVE, default=0.5, show_default=True,
              help="Inverse regularisation strength: larger fits the examples closer.")
def train(train_file: Path, val_file: Path | None, out: Path, c: float) -> None:
    """Train the intent model on labelled JSON lines ({"text", "label"}; label "oos" = out of scope,
    learned as a class of its own; "oos:TOPIC", e.g. "oos:weather", learns each topic apart and still
    decides one out-of-scope class). The model reads each text's meaning (its sentence embedding) and
    its words; the head is fitted on all of it (--val too); the threshold on 5-fold out-of-fold
    predictions, to reject 65% of the out-of-scope examples by their best route's score alone (the
    out-of-scope class rejects more on top).

    \b
    Example:
      assist classify train train.jsonl --val val.jsonl --out ~/assist/intent.npz
    """
    from dataclasses import replace

    from ..decide.embedder import shared
    from ..decide.intent import LABELLED, routes_of
    from ..decide.intent import train as fit

    texts, labels = _load_jsonl(train_file)
    val_vectors, val_labels, val_texts = None, None, None
    if val_file:
        val_texts, val_labels = _load_jsonl(val_file)
    found = routes_of(labels + (val_labels or []))
    if len(found) < 2:
        raise click.UsageError(f"{train_file}{f' and {val_file}' if val_file else ''}: the model needs examples "
                               f"of at least two routes; found {', '.join(sorted(found)) or 'none'}")
    embedder = shared()
    if val_texts:
        val_vectors = embedder.embed(val_texts)
    model = fit(embedder.embed(texts), labels, val_vectors, val_labels, name=out.stem,
                recipe=replace(LABELLED, c=c), texts=texts, val_texts=val_texts)
    model.save(out)
    routes = [c for c in model.classes if c != "oos"]
    oos = f", {model.meta['oos_examples']} out of scope" if model.meta.get("oos_examples") else ""
    click.echo(f"trained {out}: {len(routes)} routes, {model.meta['examples']} examples{oos}, "
               f"threshold {model.threshold:.2f}")


@classify.command("spam-train")
@click.option("--ham", "ham_paths", required=True, multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Mail that is not spam: a folder (one message a file, or a Maildir) or an mbox file; "
                   "give it again for more.")
@click.option("--spam", "spam_paths", required=True, multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Spam, the same way.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model file; point [classify] spam_model at it.")
@click.option("--c", "c", type=POSITIVE, default=10.0, show_default=True,
              help="Inverse regularisation strength: larger fits the examples closer.")
@click.option("--cv/--no-cv", default=True, show_default=True,
              help="Also report how a model trained this way does on mail it did not see (5-fold).")
def spam_train(ham_paths: tuple[Path, ...], spam_paths: tuple[Path, ...], out: Path, c: float, cv: bool) -> None:
    """Train the spam model on your own mail (the package ships one trained on the SpamAssassin corpus
    and on mail that is not a list's). The model keeps hashes of words, never the words; the mail is
    read, not kept. Give it your personal mail as well as your lists': a model that saw only list mail
    as "not spam" takes any other mail for half spam.

    \b
    Example:
      assist classify spam-train --ham ~/Mail/archive --ham ~/Mail/Sent --spam ~/Mail/Junk --out ~/assist/spam.npz
    """
    from ..decide.spam import CV_FOLDS, operating_points, out_of_fold, train

    ham, spam = _mail_of("--ham", ham_paths), _mail_of("--spam", spam_paths)
    rows, labels = ham + spam, [False] * len(ham) + [True] * len(spam)
    if cv and min(len(ham), len(spam)) < CV_FOLDS:
        raise click.UsageError(f"{CV_FOLDS}-fold: at least {CV_FOLDS} mails of each kind are needed to cross-validate "
                               f"({len(ham)} other mails, {len(spam)} spam); --no-cv trains without it")
    if cv:
        for point in operating_points(out_of_fold(rows, labels, c=c), labels):
            click.echo(f"  threshold {point['threshold']:.1f}: {point['spam_caught']:.1%} of spam caught, "
                       f"{point['ham_caught']} of {point['ham']} other mails with it (5-fold, unseen mail)")
    model = train(rows, labels, c=c, name=out.stem)
    model.save(out)
    click.echo(f"trained {out}: {len(spam)} spam, {len(ham)} other mails")


def _mail_of(flag: str, paths: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The mails of each path given with a flag; a path with none is named."""
    from ..decide.spam import read_mail

    out = []
    for path in paths:
        found = read_mail(path)
        if not found:
            raise click.UsageError(f"{flag} {path}: no mail (a folder of one message a file, a Maildir, or an "
                                   "mbox file)")
        out += found
    return out


@classify.command("eval")
@click.argument("test_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "model_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(test_file: Path, model_file: Path, as_json: bool) -> None:
    """Accuracy, macro-F1, out-of-scope recall and precision, the most confused pairs, and the operating
    curve: in-scope accuracy against out-of-scope recall at other thresholds, to choose one.

    \b
    Example:
      assist classify eval test.jsonl --model intent.npz
    """
    from ..decide.embedder import shared
    from ..decide.intent import IntentModel
    from ..decide.intent import evaluate as score
    from ..decide.model_file import read_model

    texts, labels = _load_jsonl(test_file)
    model = read_model(IntentModel.load, model_file)
    result = score(model, shared().embed(texts), labels, texts)
    if as_json:
        print_json(result)
        return
    for key in ("examples", "in_scope_accuracy", "macro_f1", "oos_recall", "oos_precision", "threshold"):
        click.echo(f"{key:18} {result[key]}")
    for pair in result["most_confused"]:
        click.echo(f"  {pair['count']:4}  {pair['true']} -> {pair['predicted']}")
    click.echo("operating curve (threshold: in-scope accuracy / out-of-scope rejected; set [classify] threshold):")
    for point in result["curve"]:
        recall = "-" if point["oos_recall"] is None else f"{point['oos_recall']:.1%}"
        click.echo(f"  {point['threshold']:.2f}: {point['in_scope_accuracy']:.1%} / {recall}")


@classify.command()
@click.option("--text", default=None, help="Explain the decision for this text.")
@click.option("--type", "task_type", default="text", show_default=True, metavar="TYPE",
              help="The text as a task of this type (email.received: as a mail's).")
@click.argument("task_id", required=False)
def explain(text: str | None, task_type: str, task_id: str | None) -> None:
    """Show how a text or a queued task would be routed: rules, model scores, threshold. A text is
    explained as a task of --type (default `text`, an event of no particular kind): routes with `types`
    take only those (docs/classify.md), so ask as a mail for the mail routes. A finished mail, whose
    record keeps no body, is read again from your account, as `classify teach` does. A look teaches
    nothing, and a mail a route filed away is explained as it is, not as one you moved back.

    \b
    Examples:
      assist classify explain --text "unsubscribe me from this list" --type email.received
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
        task, read = _whole(config, task)
        if read is not None:
            click.echo(f"{info.id}: {read}", err=True)
    else:
        task = {"id": "explain", "type": task_type, "data": {"text": text}}
    [intent] = DecisionEngine(config).decide([task], look=True)
    print_json(intent)


def _whole(config: Any, task: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A finished mail with its body: read again from the person's account (mail_again.py); with what it
    said of that (None: the task had its body)."""
    from ..mail_again import body_removed, read_again

    if not body_removed(task):
        return task, None
    found = read_again(config, task)
    if found.data is not None:
        return {**task, "data": found.data}, f"its mail read again from {found.said}"
    return task, f"from its subject and headers only: its body was removed when it finished, and {found.said}"


@classify.command()
@click.argument("task_id")
@click.argument("route")
def teach(task_id: str, route: str) -> None:
    """Tell classify a task's right route, after the fact (a finished task, a mail it misfiled): kept as
    an example like a route given with `assist queue approve ID --route R`, and learned from at once.
    A finished mail, whose body its record no longer has, is read again from your account (where a route
    filed it, where it was read, or in Junk and the other folders routes file in) and learned whole;
    when it is not there any more, from its subject and headers only, and it says so.

    \b
    Examples:
      assist classify teach 01JD3K newsletter
      assist classify teach 01JD3K spam          # the spam model learns from it too
      assist classify teach 01JD4P agenda        # a typed request: the request model learns it
    """
    from ..decide.engine import DecisionEngine
    from ..queue.admin import resolve
    from ..task import not_taken, takes

    config = load_config()
    if route not in config.routes:
        raise click.UsageError(f"no route named {route!r} (configured: {', '.join(sorted(config.routes)) or 'none'})")
    backend = config.backend()
    info = resolve(backend, task_id)
    _, task = backend.queue(info.queue, create=False).get(info.id)
    task_type = str(task.get("type", ""))
    if not takes(config.route(route), task_type):
        raise click.UsageError(f"{info.id}: {not_taken(route, config.routes, task_type)}")
    whole, read = _whole(config, task)
    how = "" if read is None else f" ({read})" if whole is not task else f", {read}"
    task = whole
    engine = DecisionEngine(config)
    if not engine.learn(task, route, "person:teach"):
        raise click.UsageError(f"{info.id} is a typed request without words: nothing to learn from")
    engine.model()  # trains the new version now
    [intent] = engine.decide([task], look=True)
    click.echo(f"learned: {info.id} is {route}{how}; classify would now say {intent['route']} "
               f"({intent['confidence']:.2f}, {intent['by']})")


@classify.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history(as_json: bool) -> None:
    """The versions of what classify learned from corrections, newest last (`*` marks the one in use).

    \b
    Example:
      assist classify history
    """
    from ..decide.learning import Learned

    learned = Learned(load_config().home)
    current = learned.current()
    rows = [{"version": v.number, "current": current is not None and v.number == current.number, **v.meta}
            for v in learned.versions()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("nothing learned yet: a route given to a held task (assist queue approve ID --route R) "
                   "or `assist classify teach ID R` is the first example")
        return
    from ..timeutil import rfc3339

    for row in rows:
        routes = ", ".join(f"{name} {n}" for name, n in sorted(row.get("by_route", {}).items())) or "-"
        click.echo(f"{'*' if row['current'] else ' '} v{row['version']:<4} {rfc3339(row['at'])}  "
                   f"{len(row.get('examples', []))} example(s): {routes}; spam model from "
                   f"{row.get('spam_examples', 0)}; {row.get('rejected', 0)} rejected"
                   + (f"; {row['lists_refused']} list(s) kept out of a route" if row.get("lists_refused") else "")
                   + (f"; {row['senders_not_spam']} sender(s) you said are not spam"
                      if row.get("senders_not_spam") else ""))


@classify.command()
def undo() -> None:
    """Go back to the version before the one in use; the examples it added are withdrawn (not learned
    again). Run it again to go back further.

    \b
    Example:
      assist classify undo
    """
    from ..decide.learning import undo as step_back

    undone, now = step_back(load_config().home)
    click.echo(f"undone v{undone.number}; " + (f"v{now.number} is in use" if now else
                                               "the routes' examples alone decide again"))


@classify.command()
@click.option("--from-sent", is_flag=True,
              help="First keep the To and Cc of the mail in the IMAP account's Sent folder (headers only).")
@click.option("--folder", default=None, metavar="NAME",
              help="The Sent folder's name, when it is not [actions.imap] sent (default \"Sent\").")
@ACCOUNT
def correspondents(from_sent: bool, folder: str | None, account: str | None) -> None:
    """The people you wrote to: the spam model never files their mail in Junk by itself (it is held for
    you instead, since a From line can be forged), and does not ask about what only might be spam. Every
    mail `assist act` sends adds its To and Cc; --from-sent adds those of the mail you sent before, from
    each of your accounts.

    \b
    Examples:
      assist classify correspondents
      assist classify correspondents --from-sent
      assist classify correspondents --from-sent --folder "[Gmail]/Sent Mail"
      assist classify correspondents --from-sent --account work
    """
    from ..correspondents import Correspondents, from_sent_folder

    config = load_config()
    if (folder is not None or account is not None) and not from_sent:
        raise click.UsageError("--folder and --account name the Sent folder to read: give --from-sent too")
    if from_sent:
        read, kept = from_sent_folder(config, folder, account)
        click.echo(f"read the headers of {read} sent message(s); {kept} correspondent(s) kept")
        return
    kept = len(Correspondents(config.home).known())
    click.echo(f"{kept} correspondent(s) kept" + ("" if kept else
               ": every mail `assist act` sends adds its To and Cc; --from-sent reads your Sent folder"))


@classify.command()
@click.option("--folder", default=None, metavar="NAME",
              help="The Junk folder, when it is not where the spam route's email.move files mail (\"Junk\").")
@ACCOUNT
def junk(folder: str | None, account: str | None) -> None:
    """Learn from the mail you moved yourself, in your mail client, into Junk or into another folder a
    route files mail in (the shipped newsletter route's Lists): a mail classify placed on another route
    in the last week (`[queue] keep_done`) that is now in that folder, in each of your accounts (an account
    out of reach is said, exit 69, and the others are read). A mail in Junk is learned as spam by the spam
    model, one in Lists as the newsletter route (`assist classify history`: "(spam)", "newsletter"), each
    once; what the routes filed there themselves, and what your provider filed before assist saw it, teach
    nothing. The folders are only read. A mail you take back out of such a folder needs no command: the
    next classify sees it come back. Run it hourly (`assist init`'s crontab lines and timers do).

    \b
    Examples:
      assist classify junk
      assist classify junk --folder "[Gmail]/Spam"
    """
    from ..errors import joined
    from ..junk_folder import learn_from_junk

    found, faults = learn_from_junk(load_config(), folder, account)
    if not found and not faults:
        click.echo("nothing to read: no folder a route files mail in (Junk, Lists) is on the server yet")
    for each in found:
        click.echo(f"{each.account + ': ' if each.account else ''}read {each.read} message(s) in {each.folder}; "
                   f"{each.learned} you moved there learned as {'spam' if each.spam else each.route}")
    if faults:
        raise joined(faults)  # exit 69 for a server out of reach
