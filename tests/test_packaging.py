"""The wheel's contents as pyproject.toml declares them: every package folder listed, configs/ mapped in."""

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_and_configs_is_mapped_in():
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(REPO).parts)
               for top in ("zg_envs", "zg_agent") for p in (REPO / top).rglob("__init__.py")}
    listed = set(tool["packages"])
    assert listed - {"zg_agent.configs"} == folders  # a package missing here would be missing from the wheel
    assert tool["package-dir"] == {"zg_agent.configs": "configs"}
    assert sorted(p.name for p in (REPO / "configs").glob("*.yaml")) == sorted(
        f"{a}.yaml" for a in ("cma", "es", "ppo", "random", "zerograds"))
