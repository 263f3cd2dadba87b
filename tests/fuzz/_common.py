"""What the fuzz targets share: the checkout's package on the path, and atheris set up on a test."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "cli"))


def fuzz(test: Callable[[bytes], None]) -> None:
    import atheris

    atheris.Setup(sys.argv, test)
    atheris.Fuzz()
