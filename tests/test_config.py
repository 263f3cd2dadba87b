"""Home discovery and `assist config check`."""

from __future__ import annotations

from assist.config_file import load
from assist.home import find_home
from conftest import run


def test_home_is_found_upward_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSIST_HOME", raising=False)
    (tmp_path / "assist.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_home(deep) == tmp_path.resolve()


def test_env_wins_over_discovery_and_home_flag_wins_over_env(tmp_path, monkeypatch):
    (tmp_path / "assist.toml").write_text("")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("ASSIST_HOME", str(other))
    assert find_home(tmp_path) == other.resolve()
    flag_home = tmp_path / "flag"
    flag_home.mkdir()
    r = run(["--home", str(flag_home), "config", "paths"], cwd=tmp_path)
    assert f"home    {flag_home}" in r.out


def test_the_home_and_queue_flags_also_work_after_the_command(tmp_path, monkeypatch):
    """`assist init --help` says "the home is --home": typed after the command, as a person reads it, the
    flag is taken as if it came first (click said "No such option")."""
    monkeypatch.delenv("ASSIST_HOME", raising=False)
    flag_home = tmp_path / "flag"
    flag_home.mkdir()
    r = run(["config", "paths", "--home", str(flag_home)], cwd=tmp_path)
    assert r.code == 0 and f"home    {flag_home}" in r.out, r.err
    r = run(["config", "paths", f"--home={flag_home}"], cwd=tmp_path)
    assert r.code == 0 and f"home    {flag_home}" in r.out, r.err
    spool = tmp_path / "elsewhere"
    r = run(["--home", str(flag_home), "enqueue", "--queue", "inbox", "--queue-url", str(spool)],
            input='{"type": "text", "data": {"text": "hi"}}\n', cwd=tmp_path)
    assert r.code == 0, r.err
    assert len(list((spool / "inbox" / "new").iterdir())) == 1
    # after `--`, words are the command's own, never taken for the flag
    r = run(["--home", str(flag_home), "config", "paths", "--", "--home", str(spool)], cwd=tmp_path)
    assert r.code == 2 and "unexpected extra arguments (--home" in r.err, r.err
    # a value the flag needs is still asked for
    r = run(["config", "paths", "--home"], cwd=tmp_path)
    assert r.code == 2 and "--home" in r.err


def test_without_any_home_the_user_data_folder_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSIST_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert find_home(tmp_path) == tmp_path / "xdg" / "assist"


def test_check_accepts_the_repository_config_once_it_has_a_mail_account(monkeypatch, tmp_path):
    """The shipped file is right but for the one thing only its user knows: the mail account. check says
    so in one line (and exits 78); with an account it is ok."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("ASSIST_HOME", str(repo))
    r = run(["config", "check"])
    assert r.code == 78 and r.out == "", r.err
    [line] = r.err.strip().splitlines()
    assert ("actions.imap.host: not set, and routes spam, newsletter, urgent, flag, draft_email, forward_email "
            "need it") in line
    cfg = load()
    assert cfg.queue_settings.max_attempts == 5 and cfg.queue_settings.lease_s == 300
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "assist.toml").write_text((repo / "assist.toml").read_text()
                                      + '\n[actions.imap]\nhost = "imap.example.org"\nusername = "me"\n')
    monkeypatch.setenv("ASSIST_HOME", str(mine))
    r = run(["config", "check"])
    assert r.code == 0 and r.out.startswith("ok: ") and r.out.strip().endswith("assist.toml"), r.err


def test_check_names_file_key_and_problem_for_every_error(home):
    (home / "assist.toml").write_text(
        'allow_remote = "yes"\n'
        "colour = 3\n"
        "[queue]\n"
        "max_attempts = 0\n"
        'lease = "soon"\n'
        "[logs]\n"
        'level = "loud"\n'
    )
    r = run(["config", "check"])
    assert r.code == 78
    lines = r.err.splitlines()
    path = str(home / "assist.toml")
    assert all(line.startswith(f"assist: {path}: ") for line in lines)
    text = r.err
    assert "allow_remote: " in text and "is not of type \"boolean\"" in text
    assert "(top level): unknown key(s): 'colour'" in text
    assert "queue.max_attempts: 0 is less than the minimum of 1" in text
    assert "queue.lease: " in text and "not a duration" in text
    assert "logs.level: " in text
    assert len(lines) == 5


def test_a_value_of_neither_allowed_kind_is_explained_as_what_its_key_takes(home):
    """Every value the schema takes in two kinds was "not a duration": a list of roots for the files
    actions, a rule's match, an argument of a shell allowlist entry. Each says what its key takes."""
    (home / "assist.toml").write_text('[actions.files]\nroots = ["~/Documents"]\n'
                                      '[actions.shell]\nallow = [["ls", 5]]\n'
                                      '[queue]\nlease = "soon"\n[alerts]\nstopped = "soon"\n'
                                      '[routes.r]\n[[rules]]\nname = "x"\nroute = "r"\nmatch = {foo = 1}\n')
    r = run(["config", "check"])
    assert r.code == 78
    said = {line.split(": ")[2]: line.split(": ", 3)[3] for line in r.err.splitlines()}  # assist: FILE: KEY: ...
    assert said["actions.files.roots"].startswith("['~/Documents'] is not a folder nor a table of named folders")
    assert said["actions.shell.allow.0.1"].startswith("5 is not an argument (a string) nor {pattern = ")
    assert said["rules.0.match"].startswith("{'foo': 1} is not a match: {field = ..., and one of equals, glob")
    assert said["queue.lease"].startswith("'soon' is not a duration") and said["alerts.stopped"].startswith(
        "'soon' is not a duration")


def test_toml_syntax_error_is_one_clear_line(home):
    (home / "assist.toml").write_text("[queue\n")
    r = run(["config", "check"])
    assert r.code == 78 and "TOML syntax" in r.err and str(home / "assist.toml") in r.err


def test_a_fixed_config_is_checked_again(home):
    (home / "assist.toml").write_text("[queue]\nmax_attempts = 3\n")
    assert run(["config", "check"]).code == 0
    (home / "assist.toml").write_text("[queue]\nmax_attempts = -3\n")
    assert run(["config", "check"]).code == 78


def test_a_request_fallback_that_names_no_request_route_is_refused(home):
    routes = ('[routes.agenda]\nrequest = true\nexamples = ["what is on my calendar today"]\n'
              'template = "agenda-answer"\n')
    (home / "assist.toml").write_text('[classify]\nrequest_fallback = "chatt"\n' + routes)
    r = run(["config", "check"])
    assert r.code == 78 and "classify.request_fallback: no request route 'chatt'" in r.err, r
    (home / "assist.toml").write_text('[classify]\nrequest_fallback = "agenda"\n' + routes)
    assert run(["config", "check"]).code == 0
