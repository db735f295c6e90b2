"""The README's Python API section runs as written (its snippets one after the other, in a fresh folder)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def test_python_api_and_replay_snippets_run(tmp_path):
    code = "\n".join(re.findall(r"```python\n(.*?)```", section("Replay a run and record videos"), re.S) +
                     re.findall(r"```python\n(.*?)```", section("Python API"), re.S))
    assert "load_solution(" in code and "train(cfg)" in code and "replay(" in code and "load_run_config(" in code
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", SDL_VIDEODRIVER="dummy")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = proc.stdout.splitlines()[:2]
    assert first.startswith("finished 2048 ") and second.endswith(" True 9")
    assert (tmp_path / "shadow.mp4").is_file() and any((tmp_path / "runs").iterdir())
