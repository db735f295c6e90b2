"""Importing the bullet envs keeps pybullet's load-time banner out of the output, and nothing else."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zg_envs.bullet import import_without_banner

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_envs_prints_no_pybullet_banner():
    code = "import zg_envs.bullet.character_mimic_v0, zg_envs.bullet.character_locomotion_v0; print('imported')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout == b"imported\n"
    assert b"pybullet build time" not in out.stderr, out.stderr.decode()


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    """Write a module into a folder on sys.path; sys.path and sys.modules are restored afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    created = []

    def make(name, body):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
        created.append(name)
        return name

    yield make
    for name in created:
        sys.modules.pop(name, None)


def test_other_output_of_the_import_is_passed_through(fake_module, capfd):
    name = fake_module("zg_fake_noisy_module", """
        import os
        os.write(1, b"pybullet build time: today\\nreal stdout line\\n")
        os.write(2, b"pybullet build time: today\\nreal warning line\\n")
        VALUE = 3
    """)
    module = import_without_banner(name)
    assert module.VALUE == 3
    out, err = capfd.readouterr()
    assert out == "real stdout line\n" and err == "real warning line\n"


def test_a_failing_import_still_raises_and_shows_its_output(fake_module, capfd):
    name = fake_module("zg_fake_broken_module", """
        import os
        os.write(2, b"pybullet build time: today\\nerror: cannot load the physics library\\n")
        raise ImportError("no physics here")
    """)
    with pytest.raises(ImportError, match="no physics here"):
        import_without_banner(name)
    assert capfd.readouterr().err == "error: cannot load the physics library\n"
