"""scripts/make_env_figures.py: every figure renders, and the designed ones show a meaningful design."""

import importlib.util
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_env_figures.py"


@pytest.fixture(scope="module")
def figures():
    spec = importlib.util.spec_from_file_location("make_env_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is executed
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_shadow_art_figure_is_the_carved_design(figures):
    figure = next(f for f in figures.FIGURES if f.env_id == "zg/ShadowArt-v0")
    env = gym.make(figure.env_id, **figure.kwargs)
    env.reset(seed=0)
    (design,) = figure.actions(env)
    _, _, _, _, info = env.step(design)
    shadows, targets = env.unwrapped.design_masks, env.unwrapped.target_masks
    assert not (shadows & ~targets).any()  # no shadow outside a target ...
    assert info["loss"] < 0.05 and 0.02 < info["occupied_fraction"] < 0.2  # ... and most of each target covered


def test_shadow_caster_figure_is_half_way_to_the_target(figures):
    figure = next(f for f in figures.FIGURES if f.env_id == "zg/ShadowCaster-v0")
    env = gym.make(figure.env_id, **figure.kwargs)
    env.reset(seed=0)
    for action in figure.actions(env):
        _, _, terminated, _, info = env.step(action)
    assert terminated and 0.3 < info["iou"] < 0.9  # partly right: correct, extra and missing shadow all show
    shadows, target = env.unwrapped.design_mask, env.unwrapped.target_mask
    assert (shadows & target).any() and (shadows & ~target).any() and (~shadows & target).any()


def test_every_figure_renders(figures, tmp_path):
    assert figures.main(["--out-dir", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == sorted(f.file for f in figures.FIGURES)
    from PIL import Image

    for name in names:
        image = np.asarray(Image.open(tmp_path / name))
        assert image.ndim == 3 and image.shape[2] == 3 and len(np.unique(image.reshape(-1, 3), axis=0)) > 8
