"""The Makefile's install recipe: torch pinned, from TORCH_INDEX_URL only when it is set (a dry run, nothing
is installed)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def install_commands(*args):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # -n: print the recipe without running it; -B: as if nothing were installed yet
    proc = subprocess.run(["make", "-n", "-B", "install", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if "pip install" in line]


def test_torch_comes_from_the_default_index_unless_an_index_url_is_given():
    torch, package = install_commands()
    assert torch.split()[-1] == "torch==2.13.0" and "--index-url" not in torch and "index" not in torch
    assert '-e ".[dev,ray,video,human]"' in package
    torch, package = install_commands("TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu")
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in torch
    assert "index" not in package  # only torch comes from that index
