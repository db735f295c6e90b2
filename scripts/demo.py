"""The main job on defaults (``make demo``): a small optimizer benchmark, printing its table."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_optimizers  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(bench_optimizers.main(["--quick", "--out", "runs/demo/optimizers.md"]))
