"""bench/classify_eval.py reads a held-out intent split (`--clinc-test FILE` and the others) in the shapes
such splits come in, and says which line it cannot read instead of failing in the middle of a run."""

from __future__ import annotations

import json

import pytest

from conftest import bench_module


def test_a_held_out_split_is_read_as_json_lines_pairs_or_clinc150s_own_file(tmp_path):
    bench = bench_module("classify_eval")
    lines = tmp_path / "test.jsonl"  # the shared files' shape, and [text, label] pairs, blank lines between
    lines.write_text('{"text": "what is my balance", "label": "balance"}\n\n["play some jazz", "play_music"]\n')
    assert bench.load(lines) == (["what is my balance", "play some jazz"], ["balance", "play_music"])

    full = tmp_path / "data_full.json"  # CLINC150's release: the test split and its out-of-scope texts apart
    full.write_text(json.dumps({"train": [["set an alarm", "alarm"]], "test": [["wake me at 7", "alarm"]],
                                "oos_test": [["how tall is a giraffe", "oos"]]}))
    assert bench.load(full) == (["wake me at 7", "how tall is a giraffe"], ["alarm", "oos"])


@pytest.mark.parametrize("bad", ['{"text": "no label here"}', "text\tlabel", '["one", "two", "three"]'])
def test_a_line_of_another_shape_is_named_not_a_traceback(tmp_path, bad):
    bench = bench_module("classify_eval")
    split = tmp_path / "test.jsonl"
    split.write_text('{"text": "fine", "label": "ok"}\n' + bad + "\n")
    with pytest.raises(SystemExit) as stopped:
        bench.load(split)
    assert str(stopped.value) == (f'bench/classify_eval.py: {split}: line 2 is not {{"text": ..., "label": ...}} '
                                  "nor [text, label]")


def test_a_measure_with_nothing_to_measure_is_shown_as_a_dash():
    bench = bench_module("classify_eval")
    assert (bench.shown(None), bench.shown(0.55), bench.shown(1.0)) == ("-", "0.5500", "1.0000")
