"""The README's table of reference scores: start, random and upper reference of every env id and its main variants.

Each row is what a run with the shipped ZeroGrads config (and the variant's overrides) gets as its references:
``zg_agent.training.references.compute_references`` on the evaluation env and the evaluation seeds, so the
table reads like the ``references.json`` of such a run. The table is rewritten in place between the README's
``references:begin`` / ``references:end`` markers.

    python scripts/reference_table.py                  # rewrite the README's table
    python scripts/reference_table.py --readme ''      # print it only
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zg_agent.config import load_config  # noqa: E402
from zg_agent.training.base import EVAL_SEED_BASE  # noqa: E402
from zg_agent.training.references import compute_references  # noqa: E402

BEGIN, END = "<!-- references:begin -->", "<!-- references:end -->"

#: (env id, configuration as written in the table, ``--set`` overrides of the shipped zerograds config)
ROWS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("zg/ShadowCaster-v0", "default (8 spheres, hidden target)", ()),
    ("zg/ShadowCaster-v0", '`shape="box"`', ("env_kwargs.shape=box",)),
    ("zg/ShadowArt-v0", "default (K = 16, glyphs Z, G, heart)", ()),
    ("zg/ShadowArt-v0", '`targets="random"`', ("env_kwargs.targets=random",)),
    ("zg/ShadowArt-v0", "`grid=32`", ("env_kwargs.grid=32",)),
    ("zg/TreeGrowth-v0", "default (6 generations, hidden target)", ()),
    ("zg/CharacterMimic-v0", "default (walk)", ()),
    ("zg/CharacterMimic-v0", '`motion="run"`', ("env_kwargs.motion=run",)),
    ("zg/CharacterMimicOpenLoop-v0", "default (one walk cycle, 8 knots)", ()),
    ("zg/CharacterMimicOpenLoop-v0", '`motion="kick"`', ("env_kwargs.motion=kick",)),
    ("zg/CharacterLocomotion-v0", "default (hopper)", ()),
    ("zg/CharacterLocomotion-v0", '`character="walker2d"`', ("env_kwargs.character=walker2d",)),
    ("zg/CharacterLocomotion-v0", '`character="half_cheetah"`', ("env_kwargs.character=half_cheetah",)),
    ("zg/CharacterLocomotion-v0", '`character="ant"`', ("env_kwargs.character=ant",)),
    ("zg/CharacterLocomotion-v0", '`character="humanoid"`', ("env_kwargs.character=humanoid",)),
    ("Pendulum-v1", "Gymnasium's, for scale", ()),
)


def _f(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def table() -> str:
    lines = ["| env | configuration | start | random | upper | upper reference |", "|---|---|---:|---:|---:|---|"]
    for env_id, label, overrides in ROWS:
        refs = compute_references(load_config("zerograds", env_id, overrides=list(overrides)), EVAL_SEED_BASE)
        lines.append(f"| `{env_id}` | {label} | {_f(refs['start'])} | {_f(refs['random'])} | {_f(refs['upper'])} "
                     f"| {refs['upper_source']} |")
    return "\n".join(lines)


def write_into(readme: Path, text: str) -> None:
    """Replace what lies between the markers of ``readme`` with ``text``; a README without them is an error."""
    old = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(old):
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} markers to write the table between")
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", old))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="README to write into ('' to print only)")
    args = parser.parse_args(argv)
    text = table()
    print(text)
    if args.readme:
        write_into(Path(args.readme), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
