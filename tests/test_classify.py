"""The decision engine: rules, the intent model (trained and evaluated for real), the stage, explain."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from assist.decide.rules import first_match, matches
from conftest import ASSIST, FAST_CONFIG, REPO, jsonl, run, wait_for

CLINC = Path(__file__).parent / "fixtures" / "clinc150"
SHOPPING_AND_MUSIC = """
[routes.shopping]
actions = []
examples = ["add milk to my shopping list", "put eggs on the grocery list", "we need more bread",
            "remember to buy coffee", "add apples to the list"]
[routes.music]
actions = []
examples = ["play some jazz", "put on my workout playlist", "play the latest album by adele",
            "i want to hear some music", "start my morning playlist"]
"""

# five examples each of two routes and of out-of-scope requests, for the models trained in a test
EXAMPLES = [(t, "shopping") for t in ("add milk to my shopping list", "put eggs on the grocery list",
                                      "we need more bread", "remember to buy coffee", "add apples to the list")]
EXAMPLES += [(t, "music") for t in ("play some jazz", "put on my workout playlist", "play the latest album",
                                    "i want to hear some music", "start my morning playlist")]
EXAMPLES += [(t, "oos") for t in ("what is the weather in paris", "how tall is the eiffel tower",
                                  "book a table for two", "what time is it in tokyo", "order a taxi")]


def test_rule_operators_and_first_match_wins():
    task = {"type": "email.received", "data": {"from": "News <news@shop.example>", "subject": "50% OFF today",
                                               "to": ["me@example.org", "list@example.org"]}}
    assert matches({"field": "type", "equals": "email.received"}, task)
    assert matches({"field": "data.from", "glob": "*@shop.example>"}, task)
    assert matches({"field": "data.subject", "regex": r"\d+% off"}, task)
    assert matches({"field": "data.to", "contains": "list@"}, task)  # any element of a list
    assert not matches({"field": "data.missing", "contains": "x"}, task)
    assert matches({"all": [{"field": "type", "equals": "email.received"},
                            {"any": [{"field": "data.subject", "contains": "nope"},
                                     {"field": "data.subject", "contains": "off"}]}]}, task)
    rules = [{"name": "a", "route": "x", "match": {"field": "data.subject", "contains": "zzz"}},
             {"name": "b", "route": "y", "match": {"field": "data.subject", "contains": "off"}},
             {"name": "c", "route": "z", "match": {"field": "type", "glob": "email.*"}}]
    assert first_match(rules, task)["name"] == "b"


def test_config_check_validates_rules(home):
    (home / "assist.toml").write_text("""
[routes.news]
actions = []
[[rules]]
name = "bad-regex"
route = "news"
match = {field = "data.subject", regex = "(unclosed"}
[[rules]]
name = "unknown-route"
route = "nowhere"
match = {field = "type", equals = "x"}
""")
    r = run(["config", "check"])
    assert r.code == 78
    assert "rules.0.match.regex: '(unclosed' is not a valid regular expression" in r.err
    assert "rules.1.route: no route named 'nowhere'" in r.err


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "intent.npz"
    r = run(["classify", "train", str(CLINC / "train.jsonl"), "--val", str(CLINC / "val.jsonl"), "--out", str(out)])
    assert r.code == 0, r.err
    assert "8 routes" in r.out
    return out


def test_train_and_eval_on_held_out_data(model_file):
    from assist.decide.intent import IntentModel

    assert IntentModel.load(model_file).word_features > 0  # labelled texts: their words are read too
    r = run(["classify", "eval", str(CLINC / "test.jsonl"), "--model", str(model_file), "--json"])
    assert r.code == 0, r.err
    result = r.json()
    assert result["examples"] == 100
    assert result["in_scope_accuracy"] >= 0.85  # 8 intents from 40 examples each
    assert result["oos_recall"] >= 0.4
    assert 0 < result["threshold"] < 1
    assert isinstance(result["most_confused"], list)
    table = run(["classify", "eval", str(CLINC / "test.jsonl"), "--model", str(model_file)]).out
    assert "in_scope_accuracy" in table and "macro_f1" in table


def test_the_stage_uses_rules_then_the_model_then_holds(home, model_file):
    (home / "assist.toml").write_text(f"""
[classify]
model = "{model_file}"
[routes.alarm]
actions = []
[routes.weather]
actions = []
[[rules]]
name = "timers-by-rule"
route = "alarm"
match = {{field = "data.text", regex = "^wake me"}}
""")
    docs = [{"type": "text", "data": {"text": "wake me up at six"}},
            {"type": "text", "data": {"text": "will it rain in paris tomorrow"}},
            {"type": "text", "data": {"text": "xq zzv plorb"}},
            {"type": "email.received", "data": {"subject": "", "body_text": ""}}]
    r = run(["enqueue", "--queue", "in"], jsonl(*docs))
    assert r.code == 0
    r = run(["classify", "--from", "in", "--to", "act", "--once"])
    assert r.code == 0, r.err
    forwarded = run(["queue", "ls", "--queue", "act", "--json"]).json()
    assert len(forwarded) == 2
    intents = {}
    for row in forwarded:
        task = run(["queue", "show", row["id"], "--queue", "act"]).json()["task"]
        intents[task["data"]["text"]] = task["intent"]
    assert intents["wake me up at six"]["by"] == "rule:timers-by-rule"
    assert intents["wake me up at six"]["confidence"] == 1.0
    weather = intents["will it rain in paris tomorrow"]
    assert weather["route"] == "weather" and weather["by"].startswith("model:")
    assert weather["confidence"] >= weather["threshold"]
    held = sorted(run(["queue", "ls", "--state", "hold", "--json"]).json(), key=lambda h: h["hold_reason"])
    assert len(held) == 2 and all("held for a person" in h["hold_reason"] for h in held)
    assert held[0]["hold_reason"].startswith("no confident route")
    assert held[1]["hold_reason"].startswith("nothing to classify")  # the empty mail: a person decides


def test_route_examples_train_a_model_on_first_use(home):
    (home / "assist.toml").write_text(SHOPPING_AND_MUSIC)
    r = run(["classify"], jsonl({"type": "text", "data": {"text": "add oranges to the grocery list"}},
                                {"type": "text", "data": {"text": "play something relaxing"}}))
    assert r.code == 0, r.err
    assert [t["intent"]["route"] for t in r.lines] == ["shopping", "music"]
    assert (home / "state" / "intent-model.npz").exists()
    explained = run(["classify", "explain", "--text", "buy cheese"]).json()
    assert explained["top"][0]["name"] == "shopping" and "threshold" in explained


def test_a_route_threshold_sends_unsure_tasks_to_the_fallback(home):
    routes = SHOPPING_AND_MUSIC
    (home / "assist.toml").write_text(routes)
    shopping = run(["classify", "explain", "--text", "add oranges to the grocery list"]).json()
    music = run(["classify", "explain", "--text", "play something relaxing"]).json()
    assert (shopping["route"], music["route"]) == ("shopping", "music")
    need = round((shopping["confidence"] + 1) / 2, 3)  # more than the model gives the shopping text
    (home / "assist.toml").write_text(routes.replace("[routes.music]", f"threshold = {need}\n[routes.music]"))
    assert run(["config", "check"]).code == 0
    unsure = run(["classify", "explain", "--text", "add oranges to the grocery list"]).json()
    assert unsure["route"] == "fallback" and unsure["threshold"] == need
    assert unsure["confidence"] == shopping["confidence"]
    other = run(["classify", "explain", "--text", "play something relaxing"]).json()
    assert other["route"] == "music" and other["threshold"] == music["threshold"]


def test_bad_input_is_named_and_the_rest_goes_on(home):
    r = run(["classify"], b'{"type": "text", "data": {"text": "hi"}}\nnot json\n\xff\xfe\n')
    assert r.code == 65 and "line 2" in r.err and "line 3" in r.err
    # the unplaced task is parked for a person (queue classify, hold/), not passed down the pipe
    assert r.lines == [] and "held: no rule matched and no intent model" in r.err
    [held] = run(["queue", "ls", "--queue", "classify", "--state", "hold", "--json"]).json()
    assert run(["queue", "show", held["id"]]).json()["task"]["intent"]["route"] == "fallback"


def test_empty_text_huge_lines_and_missing_fields_are_named_and_the_rest_goes_on(home, model_file):
    (home / "assist.toml").write_text(FAST_CONFIG + f'[classify]\nmodel = "{model_file}"\n')
    huge = b'{"type": "text", "data": {"text": "' + b"a" * 1_048_576 + b'"}}'
    lines = [b'{"type": "text", "data": {"text": "play some jazz"}}',
             b'{"type": "text", "data": {"text": "   "}}',                          # empty text
             b'{"type": "email.received", "data": {"subject": "", "body_text": ""}}',  # empty mail
             huge,                                                                   # 1 MB text
             b'{"data": {"text": "no type"}}',                                      # a missing field
             b'{"type": "note"}',                                                    # no data at all
             b'{"type": "text", "data": {"text": "what is the weather tomorrow"}}']
    r = run(["classify"], b"\n".join(lines) + b"\n")
    assert r.code == 65
    named_lines = [line for line in r.err.splitlines() if ": line " in line]
    named = sorted(int(line.split("line ")[1].split(":")[0]) for line in named_lines)
    assert named == [2, 3, 4, 5, 6]
    assert "longer than 1048576 bytes" in r.err and '"type" is a required property' in r.err
    assert sum("nothing to classify" in line for line in named_lines) == 3
    assert r.err.count(" held: nothing to classify") == 3  # and each says where it waits
    assert "Traceback" not in r.err
    by_text = {(t.get("data") or {}).get("text", t["type"]): t["intent"] for t in r.lines}
    assert len(r.lines) == 2  # the unusable tasks are parked for a person; the unreadable lines are not kept
    assert by_text["play some jazz"]["route"] == "play_music"
    assert by_text["what is the weather tomorrow"]["route"] == "weather"
    held = [run(["queue", "show", row["id"]]).json()["task"]
            for row in run(["queue", "ls", "--queue", "classify", "--state", "hold", "--json"]).json()]
    by_text = {(t.get("data") or {}).get("text", t["type"]): t["intent"] for t in held}
    assert sorted(by_text) == sorted(["   ", "email.received", "note"])
    for key in ("   ", "email.received", "note"):
        assert by_text[key]["route"] == "fallback" and by_text[key]["reason"].startswith("nothing to classify")


def test_a_person_routes_a_held_task_and_classify_keeps_that(home):
    from conftest import UNSURE_ROUTES

    (home / "assist.toml").write_text(UNSURE_ROUTES)
    run(["enqueue", "--queue", "inbox"], jsonl({"type": "text", "data": {"text": "some jazz for the evening"}}))
    assert run(["classify", "--from", "inbox", "--to", "prompt", "--once"]).code == 0
    [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
    assert "no confident route" in held["hold_reason"]
    piped = run(["classify"], jsonl({"type": "text", "data": {"text": "some jazz for the night"}}))
    assert piped.code == 0 and "`assist queue approve " in piped.err
    assert "--route NAME`, then the next run carries on" in piped.err, piped.err  # what to type, whole
    assert run(["queue", "approve", held["id"], "--route", "nowhere"]).code == 2
    r = run(["queue", "approve", held["id"], "--route", "music"])
    assert r.code == 0 and "on route music" in r.out
    assert run(["classify", "--from", "inbox", "--to", "prompt", "--once"]).code == 0
    [placed] = run(["queue", "ls", "--queue", "prompt", "--json"]).json()
    task = run(["queue", "show", placed["id"], "--queue", "prompt"]).json()["task"]
    assert task["intent"]["route"] == "music" and task["intent"]["by"] == "person"
    assert task["intent"]["engine"]["route"] == "fallback" and "approved" not in task["meta"]
    # a task that has a route is approved as it is
    assert run(["queue", "approve", placed["id"], "--route", "music"]).code == 2


def test_the_threshold_rejects_out_of_scope_examples_without_the_out_of_scope_classs_help():
    """Out of fold, the out-of-scope class wins on examples like those it learned from; a new out-of-scope
    text often is not like them. So the threshold of a model trained on labelled texts (LABELLED) is
    chosen to reject them by their best route's probability alone: here every out-of-scope example's
    best route has 0.30-0.40 and the class wins with the rest, and the in-scope examples' routes have
    0.45 and up."""
    import numpy as np

    from assist.decide.intent import choose_threshold

    classes = ["a", "b", "oos"]
    rng = np.random.default_rng(1)
    rows, truth = [], []
    for n in range(100):
        route = rng.uniform(0.45, 0.99)
        rows.append([route, 1 - route, 0.0] if n % 2 else [1 - route, route, 0.0])
        truth.append("a" if n % 2 else "b")
    for _ in range(40):
        route = rng.uniform(0.30, 0.40)
        rows.append([route, 0.0, 1 - route])
        truth.append("oos")
    probs = np.array(rows)
    threshold = choose_threshold(probs, classes, truth, oos_recall=0.65, alone=True)
    assert (probs[100:, 0] < threshold).mean() >= 0.65  # rejected by the threshold itself
    assert threshold <= 0.45  # and no in-scope example lost for it
    # with the class counted, the lowest threshold of all does
    assert choose_threshold(probs, classes, truth, oos_recall=0.65) == 0.02


def test_a_model_that_reads_words_keeps_them_as_hashes_and_loads_the_same(tmp_path):
    """The request recipe: embeddings and hashed words, a linear SVM made into probabilities by a fitted
    temperature; the saved model holds no word and gives the same probabilities once loaded."""
    import numpy as np

    from assist.decide.embedder import shared
    from assist.decide.intent import IntentModel, Recipe, train

    texts, labels = [t for t, _ in EXAMPLES], [n for _, n in EXAMPLES]
    embed = shared().embed
    model = train(embed(texts), labels, recipe=Recipe(head="svm", c=0.5, oos_weight=0.5, word_features=1 << 12),
                  texts=texts)
    assert model.meta["temperature"] > 0 and model.meta["word_features"] == 1 << 12
    probe = ["add bananas to the grocery list", "play my jazz playlist", "will it snow in paris"]
    probs = model.probabilities(embed(probe), probe)
    assert [model.classes[i] for i in probs.argmax(axis=1)] == ["shopping", "music", "oos"]
    with pytest.raises(ValueError, match="texts"):
        model.probabilities(embed(probe))
    model.save(tmp_path / "m.npz")
    assert b"grocery" not in (tmp_path / "m.npz").read_bytes()
    loaded = IntentModel.load(tmp_path / "m.npz")
    assert np.allclose(loaded.probabilities(embed(probe), probe), probs, atol=1e-6)


def test_a_label_of_one_example_leaves_the_others_to_fit_the_threshold_and_temperature():
    """Labelled data where a label has one example (SLURP's devel has several): that example is never
    held out, the others fit the threshold and the SVM's temperature. Without a temperature its margins
    made flat probabilities, and every text fell under the threshold."""
    from assist.decide.embedder import shared
    from assist.decide.intent import LABELLED, train

    examples = [*EXAMPLES, ("set an alarm for seven", "alarm")]
    texts, labels = [t for t, _ in examples], [n for _, n in examples]
    embed = shared().embed
    model = train(embed(texts), labels, recipe=LABELLED, texts=texts)
    assert model.meta["temperature"] > 0 and model.meta["threshold_from"].startswith("5-fold")
    probe = ["add bananas to the grocery list", "play my jazz playlist"]
    probs = model.probabilities(embed(probe), probe)
    assert [model.decide(row)["route"] for row in probs] == ["shopping", "music"]


def test_out_of_scope_topics_are_columns_of_their_own_summed_into_one_class(tmp_path):
    """Out of scope on both sides of a route: one linear out-of-scope class cannot hold both, a column a
    topic can, and the model still decides between the routes and "oos" alone (saved and loaded too)."""
    import numpy as np

    from assist.decide.intent import IntentModel, topics_merged, train

    rng = np.random.default_rng(0)

    def around(x: float, y: float, n: int = 30) -> list[list[float]]:
        return (np.array([x, y]) + rng.normal(0, 0.15, (n, 2))).tolist()

    vectors = np.array(around(0, 0) + around(0, 2) + around(-2, 0) + around(2, 0))
    probe = np.array([[-2.0, 0.0], [0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    lumped = ["a"] * 30 + ["b"] * 30 + ["oos"] * 60
    topics = ["a"] * 30 + ["b"] * 30 + ["oos:left"] * 30 + ["oos:right"] * 30

    def decided(model: IntentModel) -> list[str]:
        return [model.decide(row, threshold=0.0)["route"] if model.in_scope(row[None])[1][0] > 0 else "oos"
                for row in model.probabilities(probe)]

    assert decided(train(vectors, lumped)) != ["oos", "a", "oos", "b"]  # what one class cannot do
    model = train(vectors, topics)
    assert model.classes == ["a", "b", "oos"] and model.columns == ["a", "b", "oos:left", "oos:right"]
    assert decided(model) == ["oos", "a", "oos", "b"]
    assert np.allclose(model.probabilities(probe).sum(axis=1), 1.0)
    model.save(tmp_path / "m.npz")
    loaded = IntentModel.load(tmp_path / "m.npz")
    assert loaded.columns == model.columns and np.allclose(loaded.probabilities(probe), model.probabilities(probe))
    # topics too small to be in every fold are plain out of scope, or the largest topic if that is small too
    assert topics_merged(["a", "oos:x", "oos:w", "oos:v", "oos:y", "oos:y", "oos:y"], 3) == \
        ["a", "oos", "oos", "oos", "oos:y", "oos:y", "oos:y"]
    assert topics_merged(["a", "oos:x", "oos:y", "oos:y", "oos:y"], 3) == ["a"] + ["oos:y"] * 4


def test_typed_requests_go_to_their_default_route(routed_home):
    """The default request routes with the packaged examples (SLURP and CLINC150), as `assist ask` takes
    them, for requests in none of those examples; out-of-scope text is answered directly by chat."""
    expected = {"remind me to water the plants at six": "calendar_edit",
                "what have i got on this weekend": "agenda",
                "take bread off my shopping list": "note",
                "did my landlord email me about the rent": "search_mail",
                "what's the weather like in lisbon": "chat"}
    r = run(["classify"], jsonl(*({"type": "request", "data": {"text": t}} for t in expected)))
    assert r.code == 0, r.err
    assert {t["data"]["text"]: t["intent"]["route"] for t in r.lines} == expected


def test_a_regularisation_that_is_not_positive_is_refused_before_training(home, tmp_path):
    """`--c 0` once reached scikit-learn and ended in its traceback."""
    (tmp_path / "ham").mkdir()
    (tmp_path / "spam").mkdir()
    for command in (["classify", "spam-train", "--ham", str(tmp_path / "ham"), "--spam", str(tmp_path / "spam")],
                    ["classify", "train", str(REPO / "tests" / "fixtures" / "clinc150" / "train.jsonl")]):
        r = run([*command, "--out", str(tmp_path / "m.npz"), "--c", "0"])
        assert r.code == 2 and "'--c': 0.0 is not in the range x>0" in r.err and "Traceback" not in r.err, r.err


def test_training_and_eval_data_that_cannot_make_or_test_a_model_is_named_not_a_traceback(home, tmp_path):
    """Training data of one route (or none), a folder with no mail, too few mails to cross-validate, a
    file given as a model that is not one, an eval file with no examples: each ended in a traceback
    (scikit-learn's, numpy's, a format string's). Each is one line naming the input, exit 2 (usage: a bad
    argument), and nothing is written."""
    one = tmp_path / "one.jsonl"
    one.write_text('{"text": "turn on the lights", "label": "lights"}\n{"text": "lights off", "label": "lights"}\n'
                   '{"text": "what is the weather", "label": "oos"}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    not_a_model = tmp_path / "model.npz"
    not_a_model.write_bytes(b"PK\x03\x04 not a zip")
    (tmp_path / "none").mkdir()
    mail = tmp_path / "three"
    mail.mkdir()
    for n in (1, 2, 3):
        (mail / f"{n}.eml").write_bytes((REPO / "tests" / "fixtures" / "email" / "spamassassin" / "ham"
                                         / f"{n:05d}.eml").read_bytes())
    out = tmp_path / "out.npz"
    cases = [
        (["classify", "train", str(one), "--out", str(out)], f"{one}: the model needs examples of at least two routes"),
        (["classify", "train", str(empty), "--out", str(out)], f"{empty}: no examples"),
        (["classify", "spam-train", "--ham", str(mail), "--spam", str(tmp_path / "none"), "--out", str(out)],
         f"--spam {tmp_path / 'none'}: no mail"),
        (["classify", "spam-train", "--ham", str(mail), "--spam", str(mail), "--out", str(out)],
         "5-fold: at least 5 mails of each kind"),
        (["classify", "eval", str(CLINC / "test.jsonl"), "--model", str(not_a_model)],
         f"{not_a_model}: not a model assist can read"),
        (["classify", "eval", str(empty), "--model", str(not_a_model)], f"{empty}: no examples"),
    ]
    for command, said in cases:
        r = run(command)
        assert r.code == 2 and said in r.err and "Traceback" not in r.err, (command, r.err)
        assert len([line for line in r.err.splitlines() if line.strip()]) <= 3, r.err  # click's usage, the error
    assert not out.exists()


def test_a_configured_model_file_that_is_not_one_stops_the_stage_and_keeps_its_tasks(home, tmp_path):
    """`[classify] model` or `spam_model` naming a file that is not a model failed every task with numpy's
    "This file contains pickled (object) data" (`encoder`, `tokenizer`: onnxruntime's, tokenizers'): no
    file named, or each task in failed/ for a fault of the config. Now the stage stops on it, exit 78,
    naming the key and the file; the tasks stay queued."""
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(b"\x93NUMPY garbage")
    note = {"type": "note", "data": {"text": "play some jazz"}}
    mail = {"type": "email.received", "data": {"from": "a@example.org", "subject": "hi", "body_text": "hello"}}
    for key, task, said in (("model", note, "not a model assist can read"),
                            ("spam_model", mail, "not a model assist can read"),
                            ("encoder", note, "not a model assist can read"),
                            ("tokenizer", note, "not a tokenizer.json assist can read")):
        (home / "assist.toml").write_text(f'[classify]\n{key} = "{bad}"\n[routes.spam]\nactions = []\n'
                                          + SHOPPING_AND_MUSIC)
        assert run(["enqueue", "--queue", "inbox"], input=jsonl(task)).code == 0
        r = run(["classify", "--from", "inbox", "--to", "act"])
        assert r.code == 78 and f"classify.{key}: {bad}: {said}" in r.err, r.err
        assert "Traceback" not in r.err and "pickled" not in r.err, r.err
        listed = run(["queue", "ls", "--json"]).json()
        assert [t["state"] for t in listed if t["queue"] == "inbox"] == ["new"], listed
        run(["queue", "cancel", listed[0]["id"]])


def test_config_check_names_model_files_that_are_not_there_or_not_models(home, tmp_path):
    """`assist config check` said "ok" of a `[classify] model` that is not there or not a model, and of an
    encoder or tokenizer file that is not there: the first mail then stopped the stage. Each is named."""
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(b"not a model")
    (home / "assist.toml").write_text(f'[classify]\nmodel = "{bad}"\nspam_model = "missing.npz"\n'
                                      'encoder = "missing.onnx"\ntokenizer = "tokenizer.json"\n')
    r = run(["config", "check"])
    assert r.code == 78, r.err
    assert f"classify.model: {bad}: not a model assist can read" in r.err
    assert f"classify.spam_model: {home / 'missing.npz'}: not a model assist can read (No such file" in r.err
    assert f"classify.encoder: no such file: {home / 'missing.onnx'}" in r.err
    assert f"classify.tokenizer: no such file: {home / 'tokenizer.json'}" in r.err


def test_an_encoders_or_tokenizers_path_is_taken_from_the_home_as_every_path_of_the_config(home, tmp_path):
    """`[classify] tokenizer = "tokenizer.json"` was looked for in the folder the command ran in (cron's is
    not the home), where every other relative path of assist.toml is taken from the home."""
    from assist.decide.embedder import TOKENIZER

    (home / "tokenizer.json").write_bytes(TOKENIZER.read_bytes())
    (home / "assist.toml").write_text('[classify]\ntokenizer = "tokenizer.json"\n' + SHOPPING_AND_MUSIC)
    assert run(["config", "check"]).code == 0
    r = run(["classify"], input=jsonl({"type": "note", "data": {"text": "put on some jazz"}}), cwd=tmp_path)
    assert r.code == 0, r.err
    assert r.json()["intent"]["route"] == "music"


RULED = """
[routes.{first}]
actions = []
[routes.{second}]
actions = []
[[rules]]
name = "bills"
route = "{first}"
match = {{field = "data.text", regex = "^pay "}}
"""


def test_a_following_worker_takes_an_edited_config_and_keeps_its_own_when_the_edit_is_broken(home):
    """A person edits assist.toml while a worker follows the queue: the worker starts again with the new
    one (same process id, nothing lost); an edit that is not valid is said, and the worker goes on with
    the config it has."""
    config = home / "assist.toml"
    config.write_text(RULED.format(first="bills", second="later"))
    worker = subprocess.Popen([ASSIST, "classify", "--from", "in", "--to", "out", "--follow"],
                              stderr=subprocess.PIPE, env=os.environ.copy())

    def text(words: str, n: int) -> dict:
        return {"type": "text", "data": {"text": words, "n": n}}

    def routed(n: int) -> list[str]:
        listed = run(["queue", "ls", "--queue", "out", "--json", "-n", "100"])
        if listed.code == 2 and "no queue named 'out'" in listed.err:  # not until the worker puts a task there
            return []
        listing = listed.json()
        if len(listing) < n:
            return []
        shown = [run(["queue", "show", t["id"], "--queue", "out"]).json()["task"] for t in listing]
        return [t["intent"]["route"] for t in sorted(shown, key=lambda t: t["data"]["n"])]

    try:
        assert run(["enqueue", "--queue", "in"], jsonl(text("pay the rent", 1))).code == 0
        assert wait_for(lambda: routed(1), timeout=120, what="the first task") == ["bills"]
        config.write_text("[routes.bills\nactions = [")  # a save half done, or a slip: not TOML
        log = home / "logs" / "classify.jsonl"
        wait_for(lambda: log.exists() and b"config_not_taken" in log.read_bytes(), timeout=120, what="the edit said")
        assert worker.poll() is None  # it goes on
        config.write_text(RULED.format(first="household", second="bills"))  # the rule now files in household
        wait_for(lambda: b"config_changed" in log.read_bytes(), timeout=120, what="the edit to be taken")
        assert run(["enqueue", "--queue", "in"], jsonl(text("pay the water", 2))).code == 0
        assert wait_for(lambda: routed(2), timeout=120, what="the second task") == ["bills", "household"]
        assert worker.poll() is None  # the same process, started again
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=60)
    said = err.decode()
    assert "assist.toml changed but cannot be used" in said and "going on with the one it started with" in said
    assert "assist classify: assist.toml changed: starting again with it" in said
    assert worker.returncode == 0, said
