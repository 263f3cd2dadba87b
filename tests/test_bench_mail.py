"""bench/mail.py reads a corpus in the SpamAssassin public corpus's layout (what `scripts/bench mail
--corpus DIR` measures on: mail the shipped model never saw) and counts hard ham in Junk apart from ham."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures" / "email" / "spamassassin"


def bench_mail():
    spec = importlib.util.spec_from_file_location("bench_mail", REPO / "bench" / "mail.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_corpus_is_read_by_folder_and_hard_ham_is_counted_apart(tmp_path):
    bench = bench_mail()
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
