"""Mail decisions a person can trust: the 600 SpamAssassin messages of ../shared/data through the
default routes, one at a time, with a simulated person who gives each held message its true route
through the real `assist queue approve ID --route R` (classify learns from it), against SpamAssassin's
own spamd (Debian's, offline rules, a real daemon) on the same messages.

Run by `scripts/bench mail` (about 5 minutes). Stops, saying so, when ../shared/data is absent; runs
without spamd (and says so) when it is not installed.

Honest figures: the shipped spam model was trained on these 600 messages (and bench/data/other-mail),
so the runs that count split them in two halves (a fixed shuffle) and classify each half with a spam
model trained as the shipped one is on the other half and one of the two groups of bench/data/other-mail,
each half a user of its own whose corrections accumulate in order. Mail that is not a list's is scored
first: the other group of bench/data/other-mail, the CPython and flanker test mail of tests/fixtures,
and bench/data/service-mail (the mail services send, which no model learns from: bench/README.md says
why). Each half's model learns from half the corpus where the shipped one learns from all of it, so an
estimate for the shipped model follows (bench/_spam_folds.py: the spam decision alone, ten folds,
checked against the halves). The shipped model's in-sample run is printed last, marked so. True
routes: spam -> spam; other mail -> newsletter when its headers say bulk or list, else triage. Printed
per 100 messages and overall:
spam caught (filed in Junk with nobody asked), ham in Junk, held for a person, and replies drafted to
spammers (spam routed urgent), for assist, assist with spamd as one more signal, and spamd alone.

`--corpus DIR` measures on mail the shipped model never saw instead: DIR/ham, DIR/spam and, when there,
DIR/hard_ham (legitimate mail that looks like spam: newsletters, offers a person asked for), one file per
message in the layout of the SpamAssassin public corpus (its own folder names easy_ham, easy_ham_2 and
spam_2 read as ham and spam, as other copies write them too: easy-ham-1, Hard_Ham; its `cmds` files and
dot-files skipped), in a
fixed shuffle through one user's home with the shipped model; hard ham in Junk is its own column.

`--hard-ham DIR` adds the mail of DIR (one message a file) to the run as hard ham: legitimate mail that
reads like spam, which no model learns from (in the halves, neither half's model; nor the estimate), so
the issue's "hard ham in Junk" column and the share held are measured with it in the mix
(bench/data/service-mail/mail, the mail services send, is such mail).

`--unwanted DIR [--sample N]` counts instead how much of a folder of spam or phishing (a Junk folder
exported, a public collection; one message a file) the spam decision files in Junk, holds for a person
and lets through, with spamd beside it when installed, then what the shipped routes do with each
(replies drafted first: there should be none); nobody corrects anything. With `--vouched DIR2` the spam
decision's count is made once more after the person said the mails of DIR2 are not spam (the model moved
as classify's retraining moves it): how far a person's corrections let unwanted mail through.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "email" / "spamassassin"
OTHER = REPO / "bench" / "data" / "other-mail" / "mail"  # mail that is not a list's (its README)
SERVICE = REPO / "bench" / "data" / "service-mail" / "mail"  # the mail services send; no model learns from it
ODD = REPO / "tests" / "fixtures" / "email"
ASSIST = str(Path(sys.executable).parent / "assist")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_spamd(workdir: Path) -> tuple[subprocess.Popen | None, str | None]:
    binary = shutil.which("spamd") or ("/usr/sbin/spamd" if os.path.exists("/usr/sbin/spamd") else None)
    if binary is None:
        return None, None
    port = free_port()
    args = [binary, "-L", f"--listen=127.0.0.1:{port}", "-m", "2", "--max-spare=2", "--min-spare=1",
            "-r", str(workdir / "spamd.pid")]
    if os.getuid() == 0:
        args += ["-u", "nobody"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(workdir / "spamd.log", "wb"))  # noqa: SIM115
    from assist.spamd import answers

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if answers(f"127.0.0.1:{port}"):
            return proc, f"127.0.0.1:{port}"
        time.sleep(0.5)
    proc.kill()
    return None, None


User = tuple[list[tuple[bytes, str]], "Path | None"]  # one user's mail (raw, kind) and spam model (None: shipped)
# a corpus's folders and the kind of mail each holds: ham/, hard_ham/, spam/, or the public corpus's own
# easy_ham/, easy_ham_2/, spam_2/ (and as other copies write them: easy-ham-1/, Hard_Ham/, spam-2/)
KINDS = {"ham": "ham", "easy_ham": "ham", "hard_ham": "hard_ham", "spam": "spam"}


def kind_of(folder_name: str) -> str | None:
    """The kind of mail a corpus folder holds, by its name: case, "-" for "_" and a numbered part aside."""
    return KINDS.get(re.sub(r"_\d+$", "", folder_name.lower().replace("-", "_")))


def corpus_folders(folder: Path) -> list[tuple[Path, str]]:
    """(a folder of `folder`, the kind of mail it holds) for the folders KINDS names, by name."""
    return [(sub, kind) for sub in sorted(folder.iterdir()) if sub.is_dir() and (kind := kind_of(sub.name))]


def read_corpus(folder: Path) -> list[tuple[bytes, str]]:
    """(raw message, kind) for each file of the corpus's folders (corpus_folders); the corpus's index
    files (`cmds`) and dot-files are not mail."""
    return [(f.read_bytes(), kind) for sub, kind in corpus_folders(folder) for f in sorted(sub.iterdir())
            if f.is_file() and f.name != "cmds" and not f.name.startswith(".")]


def message_files(folder: Path) -> list[Path]:
    """The files under `folder`, one message each (`--hard-ham`, `--unwanted`): dot-files, READMEs and
    licenses are not mail."""
    return sorted(f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".")
                  and not f.name.upper().startswith(("README", "LICENSE")))


def read_hard_ham(folder: Path) -> list[tuple[bytes, str]]:
    """(raw message, "hard_ham") for each message file under `folder` (`--hard-ham`)."""
    if not folder.is_dir():
        sys.exit(f"bench/mail.py: --hard-ham {folder}: not a folder")
    return [(f.read_bytes(), "hard_ham") for f in message_files(folder)]


def has_ham_and_spam(folder: Path) -> bool:
    """Whether `folder` has a folder of ham and one of spam."""
    return folder.is_dir() and {"ham", "spam"} <= {kind for _, kind in corpus_folders(folder)}


def true_route(data: dict, kind: str) -> str:
    return "spam" if kind == "spam" else ("newsletter" if data.get("bulk") else "triage")


def user_config(root: Path, spam_model: Path | None, spamd: str | None, model: Path | None = None) -> Any:
    """A new home under `root` with the shipped assist.toml, the spam model and spamd given, and `model`
    (a catalog model's file) in its models/."""
    from assist.config_file import load

    home = Path(tempfile.mkdtemp(dir=root))
    if model is not None:
        (home / "models").mkdir()
        (home / "models" / model.name).symlink_to(model)
    settings = []
    if spam_model:
        settings.append(f'spam_model = "{spam_model}"')
    if spamd:
        settings.append(f'spamd = "{spamd}"')
    text = (REPO / "assist.toml").read_text()
    text = text.replace("[classify]\n", "[classify]\n" + "\n".join(settings) + "\n", 1) if "[classify]\n" in text \
        else text + "\n[classify]\n" + "\n".join(settings) + "\n"
    (home / "assist.toml").write_text(text)
    return load(home)


def through_the_routes(mails: list[dict], root: Path, spamd: str | None) -> dict[str, int]:
    """What the shipped assist.toml does with each mail (the spam decision, the rules, the intent model;
    nobody correcting, no fallback model): in Junk, held, a reply drafted (a route whose actions write
    mail: urgent), or the route it is given."""
    from collections import Counter

    from assist.decide.engine import DecisionEngine
    from assist.ingest.events import event
    from assist.task import writes_mail

    config = user_config(root, None, spamd)
    drafting = {name for name, route in config.routes.items() if writes_mail(route)}
    engine, counts = DecisionEngine(config), Counter[str]()
    for start in range(0, len(mails), 200):
        tasks = [event("email.received", f"bench:{n}", data, key=f"bench:{n}")
                 for n, data in enumerate(mails[start:start + 200], start)]
        for intent in engine.decide(tasks):
            route = intent["route"]
            counts["in Junk" if route == "spam" else "held" if route == "fallback"
                   else "reply drafted" if route in drafting else route] += 1
    return dict(counts)


def run_user(messages: list[tuple[bytes, str]], root: Path, spam_model: Path | None, spamd: str | None,
             model: Path | None = None) -> list[dict]:
    """One user's home: each message classified as it arrives; a held one routed by the person. With
    `model` (the capable catalog model's file) in the home, the LLM fallback is on, as by default."""
    from assist.ingest.events import event
    from assist.ingest.mail import mail_data
    from assist.stages.classify import ClassifyStage
    from assist.stages.runner import Runner, RunOptions

    config = user_config(root, spam_model, spamd, model)
    home = config.home
    env = {**os.environ, "ASSIST_HOME": str(home)}
    stage = ClassifyStage(config)
    inbox, out = config.backend().queue("inbox"), config.backend().queue("classified")
    results = []
    for n, (raw, kind) in enumerate(messages):
        data = mail_data(raw, config)
        doc = event("email.received", f"bench:{n}", data, key=f"bench:{home.name}:{n}")
        inbox.put(doc)
        Runner(stage, config, RunOptions(source="inbox", dest="classified", once=True)).run()
        _, found = out.get(doc["id"]) if any(i.id == doc["id"] for i in out.list()) else (None, None)
        if found is None:  # held: the person gives it its true route
            truth = true_route(data, kind)
            done = subprocess.run([ASSIST, "queue", "approve", doc["id"], "--route", truth], env=env,
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"queue approve failed: {done.stderr}")
            Runner(stage, config, RunOptions(source="inbox", dest="classified", once=True)).run()
            results.append({"kind": kind, "route": "held", "by": "-"})
        else:
            intent = found["intent"]
            results.append({"kind": kind, "route": intent["route"], "by": intent["by"],
                            "truth": true_route(data, kind)})
    shutil.rmtree(home, ignore_errors=True)
    return results


def spamd_alone(messages: list[tuple[bytes, str]], address: str) -> list[dict]:
    from assist.config import Config
    from assist.spamd import check

    config = Config(home=Path("/tmp"), path=None, raw={})
    return [{"kind": kind, "route": "spam" if check(raw, address, config)["spam"] else "other", "by": "spamd"}
            for raw, kind in messages]


def other_mail() -> list[list[dict]]:
    """bench/data/other-mail in two groups of libraries (mail that is not a list's): each half's model
    learns from one group, as the shipped model learns from both, and is measured on the other."""
    from assist.decide.spam import read_mail

    groups = (("mail-gem", "talon", "enmime"), ("php-mime-mail-parser", "mail-mime-parser"))
    return [[m for name in group for m in read_mail(OTHER / name)] for group in groups]


def report_not_lists(models: list[Any], not_lists: list[list[dict]]) -> None:
    """Mail that is not a list's, scored by the spam models of the two halves, each on what it did not
    learn from: the other group of bench/data/other-mail, the 92 test messages of CPython and flanker in
    tests/fixtures, and the 47 of bench/data/service-mail (no model learned from those two; the shipped
    model's scores of the last too). No person corrects anything here."""
    from assist.decide.spam import read_mail, shipped
    from assist.ingest.mail import parse_message

    odd = [parse_message(f.read_bytes()) for name in ("cpython", "flanker") for f in sorted((ODD / name).rglob("*"))
           if f.is_file() and f.suffix != ".gz" and not f.name.startswith("LICENSE") and "spam" not in f.parts]
    print("\nmail that is not a list's (spam model alone: held from 0.5, Junk from 0.8)")
    unseen = [p for k in range(2) for p in models[k].probabilities(not_lists[k])]
    service = read_mail(SERVICE)
    for name, scored in (("bench/data/other-mail", unseen),
                         ("tests/fixtures cpython + flanker", [p for m in models for p in m.probabilities(odd)]),
                         ("bench/data/service-mail", [p for m in models for p in m.probabilities(service)]),
                         ("  the same, by the shipped model", shipped().probabilities(service))):
        held = sum(0.5 <= p < 0.8 for p in scored)
        junk = sum(p >= 0.8 for p in scored)
        print(f"  {name:34} {len(scored)} scorings: held {held} ({held / len(scored):.1%}), "
              f"in Junk {junk} ({junk / len(scored):.1%})")


def figures(results: list[dict]) -> dict:
    spam = [r for r in results if r["kind"] == "spam"]
    hard = [r for r in results if r["kind"] == "hard_ham"]
    return {"n": len(results), "spam": len(spam), "caught": sum(r["route"] == "spam" for r in spam),
            "ham_in_junk": sum(r["route"] == "spam" for r in results if r["kind"] == "ham"),
            "hard": len(hard), "hard_in_junk": sum(r["route"] == "spam" for r in hard),
            "held": sum(r["route"] == "held" for r in results),
            "urgent_spam": sum(r["route"] == "urgent" for r in spam)}


def line(name: str, f: dict) -> str:
    caught = f"{f['caught']}/{f['spam']} ({f['caught'] / max(1, f['spam']):.0%})"
    held = f"{f['held']} ({f['held'] / max(1, f['n']):.0%})"
    hard = f"{f['hard_in_junk']}/{f['hard']}" if f["hard"] else "-"
    return f"{name:30} {caught:>16} {f['ham_in_junk']:>11} {hard:>16} {held:>11} {f['urgent_spam']:>13}"


def report(name: str, results: list[dict]) -> None:
    print(f"\n{name}")
    print(f"{'messages':30} {'spam caught':>16} {'ham in Junk':>11} {'hard ham in Junk':>16} {'held':>11} "
          f"{'spam urgent':>13}")
    for start in range(0, len(results), 100):
        print(line(f"  {start + 1}-{min(start + 100, len(results))}", figures(results[start:start + 100])))
    print(line("  all", figures(results)))
    if len(results) > 100:
        print(line("  after the first 100", figures(results[100:])))


def interleave(parts: list[list[Any]]) -> list[Any]:
    """The halves' results back in arrival order (a half is every other message of the shuffle)."""
    if len(parts) == 1:
        return parts[0]
    merged: list[Any] = [None] * (len(parts[0]) + len(parts[1]))
    merged[0::2], merged[1::2] = parts
    return merged


def unwanted(folder: Path, sample: int | None, vouched: Path | None = None) -> None:
    """Mail that must not reach the inbox unasked, one message a file (a Junk folder exported, a public
    collection of phishing): how many the spam decision (decide/spam_policy.py, the shipped model, with
    spamd as well when it is installed) files in Junk, holds for a person, and lets through. Nobody
    corrects anything here; with `vouched` (a folder of mail, one message a file), once more after the
    person said its mails are not spam, the model moved as classify's retraining moves it. `sample`: that
    many files of a fixed shuffle."""
    from collections import Counter

    from assist.config import Config
    from assist.correspondents import Correspondents
    from assist.decide.learning import CORRECTION_STRENGTH
    from assist.decide.spam import adjust, shipped
    from assist.decide.spam_policy import DEFAULT_HOLD, DEFAULT_ROUTE, DEFAULT_THRESHOLD, SpamPolicy
    from assist.ingest.mail import mail_data
    from assist.junked import Junked

    files = message_files(folder)
    if not files:
        sys.exit(f"bench/mail.py: {folder} has no messages")
    random.Random(0).shuffle(files)
    files = files[:sample] if sample else files
    root = Path(tempfile.mkdtemp(prefix="assist-bench-unwanted-"))
    try:
        proc, address = start_spamd(root)
        if address is None:
            print("spamd is not installed (apt-get install spamassassin): its rows are skipped")
        config = Config(home=root, path=None, raw={"classify": {"spamd": address}} if address else {})
        model, people, junked = shipped(), Correspondents(root), Junked(root)
        policies = {"assist": SpamPolicy(DEFAULT_ROUTE, DEFAULT_THRESHOLD, DEFAULT_HOLD, model, False, people, junked)}
        if address:
            policies["assist + spamd"] = SpamPolicy(DEFAULT_ROUTE, DEFAULT_THRESHOLD, DEFAULT_HOLD, model, True,
                                                    people, junked)
        if vouched is not None:
            said = [mail_data(f.read_bytes(), config) for f in message_files(vouched)]
            moved = adjust(model, said, [False] * len(said), CORRECTION_STRENGTH)
            policies[f"assist, {len(said)} mails of {vouched} said not spam"] = SpamPolicy(
                DEFAULT_ROUTE, DEFAULT_THRESHOLD, DEFAULT_HOLD, moved, False, people, junked)
        counts: dict[str, Counter[str]] = {name: Counter() for name in [*policies, "spamd alone (threshold 5.0)"]}
        started = time.perf_counter()
        mails = []
        for f in files:
            data = mail_data(f.read_bytes(), config)
            mails.append(data)
            for name, policy in policies.items():
                intent = policy.judge(data)[1]
                counts[name]["in Junk" if intent and intent["route"] == DEFAULT_ROUTE
                             else "held" if intent else "let through"] += 1
            if address:
                spamd = data.get("spamd") or {}
                counts["spamd alone (threshold 5.0)"]["in Junk" if spamd.get("spam") is True else "let through"] += 1
        if proc is not None:
            proc.terminate()
        print(f"{len(files)} messages of {folder} that must not reach the inbox unasked (nobody correcting)")
        for name, found in counts.items():
            if sum(found.values()):
                print(f"  {name:28} " + "  ".join(f"{what} {found[what]} ({found[what] / len(files):.1%})"
                                                   for what in ("in Junk", "held", "let through")))
        routed = {"reply drafted": 0, **through_the_routes(mails, root, address)}
        print(f"  {'shipped routes' + (' + spamd' if address else ''):28} " + "  ".join(
            f"{what} {count} ({count / len(files):.1%})" for what, count in
            sorted(routed.items(), key=lambda item: (item[0] != "reply drafted", -item[1]))))
        print(f"{time.perf_counter() - started:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, metavar="DIR",
                        help="mail the shipped model never saw: DIR/ham, DIR/spam and DIR/hard_ham (or the "
                             "public corpus's easy_ham, easy_ham_2, spam_2) "
                             "(default: ../shared/data's 600, in two halves)")
    parser.add_argument("--unwanted", type=Path, metavar="DIR",
                        help="instead, a folder of spam or phishing, one message a file: how much of it the "
                             "spam decision files in Junk, holds, and lets through")
    parser.add_argument("--sample", type=int, metavar="N", help="with --unwanted: N messages of a fixed shuffle")
    parser.add_argument("--vouched", type=Path, metavar="DIR",
                        help="with --unwanted: count again after the person said the mails of DIR (one message a "
                             "file, e.g. bench/data/service-mail/mail) are not spam")
    parser.add_argument("--hard-ham", type=Path, metavar="DIR",
                        help="legitimate mail that reads like spam (one message a file, e.g. "
                             "bench/data/service-mail/mail) added to the run as hard ham; no model learns from it")
    args = parser.parse_args()
    if args.vouched is not None and (args.unwanted is None or not message_files(args.vouched)):
        parser.error("--vouched DIR goes with --unwanted, and DIR needs messages (one a file)")
    if args.unwanted is not None:
        unwanted(args.unwanted, args.sample, args.vouched)
        return
    unseen = args.corpus is not None and args.corpus.resolve() != CORPUS.resolve()
    folder = args.corpus if unseen else CORPUS
    if not has_ham_and_spam(folder):
        sys.exit(f"bench/mail.py: {folder} has no ham/ (or easy_ham/) and spam/ folders (names: {sorted(KINDS)})"
                 + ("" if unseen else "; the mail corpus is not part of the repository"))
    order = read_corpus(folder)
    if args.hard_ham is not None:
        order += read_hard_ham(args.hard_ham)
    random.Random(0).shuffle(order)
    root = Path(tempfile.mkdtemp(prefix="assist-bench-mail-"))
    try:
        if unseen:  # one user, the shipped model
            users: list[User] = [(order, None)]
            how = f"the shipped spam model; {len(order)} messages of {folder} it never saw"
        else:
            users = halves_with_models(order, root)
            how = "spam model trained on the other half; each half its own user"
        proc, address = start_spamd(root)
        if address is None:
            print("spamd is not installed (apt-get install spamassassin): its columns are skipped")
        started = time.perf_counter()
        runs: dict[str, list[list[dict]]] = {"assist": [], "assist + spamd": [], "spamd alone (threshold 5.0)": []}
        for messages, model in users:
            runs["assist"].append(run_user(messages, root, model, None))
            if address:
                runs["assist + spamd"].append(run_user(messages, root, model, address))
                runs["spamd alone (threshold 5.0)"].append(spamd_alone(messages, address))
        for name, parts in runs.items():
            if parts:
                report(f"{name} ({how})" if name.startswith("assist") else name, interleave(parts))
        from assist.ai.pull import DEFAULT, present

        if present(REPO / "models", DEFAULT):
            with_llm = interleave([run_user(messages, root, model, None, REPO / "models" / DEFAULT.file)
                                   for messages, model in users])
            report(f"assist with the LLM fallback ({DEFAULT.name}; {how})", with_llm)
            asked = [r for r in with_llm if r["by"].startswith("llm:")]
            right = sum(r["route"] == r["truth"] for r in asked)
            print(f"  the model placed {len(asked)} of {len(with_llm)} messages ({len(asked) / len(with_llm):.1%}), "
                  f"{right} of them on their true route ({right / max(1, len(asked)):.0%})")
        else:
            print(f"\nthe LLM fallback is not measured: {DEFAULT.name} is not in ./models (assist models pull)")
        if not unseen:
            from _spam_folds import estimate

            estimate([m for m in order if m[1] != "hard_ham"], address, other_mail())
            shipped = run_user(order, root, None, None)
            report("assist with the shipped spam model (IN-SAMPLE: trained on these 600; not a measure)", shipped)
        print(f"\n{time.perf_counter() - started:.0f} s; targets on unseen mail (issue #19): spam into Junk >= 95%, "
              "ham in Junk 0, hard ham in Junk <= 1%, held <= 5% after the first 100 corrections, "
              "no reply drafted to a spammer")
        if proc is not None:
            proc.terminate()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def halves_with_models(order: list[tuple[bytes, str]], root: Path) -> list[tuple[list[tuple[bytes, str]], Path | None]]:
    """The shuffled corpus in two halves, each with a spam model trained as the shipped one is on the
    other half and one group of bench/data/other-mail; mail that is not a list's scored by both first."""
    from assist.decide.spam import train
    from assist.ingest.mail import parse_message

    halves = [order[0::2], order[1::2]]
    not_lists = other_mail()
    users: list[User] = []
    trained = []
    for k in range(2):
        other = [(raw, kind) for raw, kind in halves[1 - k] if kind != "hard_ham"]  # hard ham: learned by none
        model = train([parse_message(raw) for raw, _ in other] + not_lists[1 - k],
                      [kind == "spam" for _, kind in other] + [False] * len(not_lists[1 - k]))
        path = root / f"spam-trained-on-half-{1 - k}.npz"
        model.save(path)
        users.append((halves[k], path))
        trained.append(model)
    report_not_lists(trained, not_lists)
    return users


if __name__ == "__main__":
    main()
