"""Compiling the interop suite's Java programs against Debian's jars."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JAVAC_TIMEOUT_S = 180


def compile_java(sources: list[Path], classpath: list[Path], out: Path) -> Path:
    """Compiles `sources` into `out`; a missing jar or javac fails the test with what to install."""
    missing = [str(p) for p in classpath if not p.exists()]
    if missing or shutil.which("javac") is None:
        pytest.fail(f"Java client or Curator missing ({missing or 'javac'}): run .ci/install", pytrace=False)
    p = subprocess.run(
        ["javac", "--release", "17", "-nowarn", "-cp", ":".join(map(str, classpath)), "-d", str(out),
         *sorted(map(str, sources))],
        capture_output=True, text=True, timeout=JAVAC_TIMEOUT_S)
    assert p.returncode == 0, f"javac failed:\n{p.stdout}\n{p.stderr}"
    return out
