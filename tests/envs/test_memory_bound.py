"""Arguments that would need more memory than the documented bound are refused up front, with the estimate."""

import time
import tracemalloc

import gymnasium as gym
import numpy as np
import pytest

import zg_envs  # noqa: F401  (registers the zg namespace)
from zg_envs import shadow_art_v0, shadow_caster_v0, tree_growth_v0, utils


def test_the_bound_is_two_gib():
    assert utils.MEMORY_BOUND_BYTES == 2 * 2**30


def test_tree_growth_refuses_a_huge_tree_at_once():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"zg/TreeGrowth-v0: these arguments would need up to about 701 GiB "
                                         r"of memory \(.*999,999 new branches.*resolution=1024\), more than "
                                         r"the bound of 2 GiB .*lower resolution, max_segments or generations"):
        gym.make("zg/TreeGrowth-v0", resolution=1024, max_segments=1_000_000, generations=16)
    assert time.perf_counter() - start < 1.0  # refused before any work


def test_tree_growth_bound_follows_max_segments():
    gym.make("zg/TreeGrowth-v0", resolution=1024, max_segments=1673, generations=6).close()
    with pytest.raises(ValueError, match="would need up to about 2"):
        gym.make("zg/TreeGrowth-v0", resolution=1024, max_segments=1674, generations=6)


def test_shadow_caster_caps_resolution_and_says_why():
    with pytest.raises(ValueError, match=r"resolution must be an integer in \[8, 4096\] \(memory grows as "
                                         r"resolution\^2: 20000 would need up to about 18.6 GiB\), got 20000"):
        gym.make("zg/ShadowCaster-v0", resolution=20000)
    with pytest.raises(ValueError, match=r"in \[8, 4096\]"):
        gym.make("zg/ShadowCaster-v0", resolution=4097)
    largest = shadow_caster_v0.estimate_memory(4096, 16, "image", True)
    assert largest < utils.MEMORY_BOUND_BYTES  # everything under the cap fits the bound


def test_shadow_art_refuses_a_point_light_table_above_the_bound():
    with pytest.raises(ValueError, match=r"zg/ShadowArt-v0: these arguments would need up to about 2.95 GiB "
                                         r".*grid=256, resolution=256, 3 screens, light='point'.*"
                                         r"or use light='directional'"):
        gym.make("zg/ShadowArt-v0", grid=256, light="point")
    with pytest.raises(ValueError, match="resolution=20000"):
        gym.make("zg/ShadowArt-v0", grid=16, resolution=20000)
    assert shadow_art_v0.estimate_memory(256, 3, 256, "directional") < utils.MEMORY_BOUND_BYTES


@pytest.mark.parametrize("env_id", ["zg/CharacterLocomotion-v0", "zg/CharacterMimic-v0"])
def test_bullet_envs_check_the_bound_too(env_id, monkeypatch):
    monkeypatch.setattr(utils, "MEMORY_BOUND_BYTES", 200 * 2**20)
    gym.make(env_id, render_mode="rgb_array", render_width=1024, render_height=1024).close()  # 96 MiB
    with pytest.raises(ValueError, match=r"would need up to about 576 MiB .*render 4096 x 4096"):
        gym.make(env_id, render_mode="rgb_array", render_width=4096, render_height=4096)


def _peak_bytes(make, steps, render=False):
    tracemalloc.start()
    try:
        env = make()
        rng = np.random.default_rng(0)
        env.reset(seed=0)
        for _ in range(steps):
            action = rng.uniform(-1, 1, env.action_space.shape)
            action[:1] = 1.0  # TreeGrowth: four children per tip, the largest trees
            env.step(action)
        if render:
            env.render()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kwargs", [dict(resolution=256, max_segments=4096, generations=8),
                                    dict(resolution=128, max_segments=512, generations=6,
                                         render_mode="rgb_array", render_resolution=256)])
def test_tree_growth_estimate_bounds_the_measured_peak(kwargs):
    peak = _peak_bytes(lambda: tree_growth_v0.TreeGrowthEnv(**kwargs), kwargs["generations"],
                       render="render_mode" in kwargs)
    estimate = tree_growth_v0.estimate_memory(kwargs["resolution"], kwargs["generations"],
                                              kwargs["max_segments"], kwargs.get("render_resolution"))
    assert peak < estimate


def test_image_env_estimates_bound_the_measured_peak():
    peak = _peak_bytes(lambda: shadow_caster_v0.ShadowCasterEnv(resolution=1024, obs_type="image"), 8)
    assert peak < shadow_caster_v0.estimate_memory(1024, 16, "image", False)
    peak = _peak_bytes(lambda: shadow_art_v0.ShadowArtEnv(grid=96), 1)
    assert peak < shadow_art_v0.estimate_memory(96, 3, 96, "directional")
    peak = _peak_bytes(lambda: shadow_art_v0.ShadowArtEnv(grid=16, resolution=128, light="point"), 1)
    assert peak < shadow_art_v0.estimate_memory(16, 3, 128, "point")
