"""Gymnasium's rendering wrappers on our envs: RecordVideo (the `video` extra, moviepy) and render_mode="human"
(the `human` extra, pygame), which gymnasium.make provides by wrapping an rgb_array env in HumanRendering."""

import os

import gymnasium as gym
import numpy as np
import pytest

import zg_envs  # noqa: F401 - registers the zg/ ids


def test_record_video_writes_every_frame_of_an_episode(tmp_path):
    pytest.importorskip("moviepy", reason="RecordVideo needs the `video` extra: pip install -e .[video]")
    imageio = pytest.importorskip("imageio.v2")
    from gymnasium.wrappers import RecordVideo

    env = RecordVideo(gym.make("zg/ShadowCaster-v0", render_mode="rgb_array"), str(tmp_path),
                      episode_trigger=lambda episode: True, disable_logger=True)
    env.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        done = terminated or truncated
    env.close()
    (video,) = tmp_path.glob("*.mp4")
    reader = imageio.get_reader(str(video))
    try:
        frames = sum(1 for _ in reader)
    finally:
        reader.close()
    assert steps == 8 and frames == steps + 1  # the frame after reset and one per step


@pytest.mark.parametrize("env_id, kwargs", [("zg/ShadowCaster-v0", {}), ("zg/TreeGrowth-v0", {"generations": 2})])
def test_human_render_mode_draws_in_a_window(env_id, kwargs, monkeypatch):
    pytest.importorskip("pygame", reason="render_mode='human' needs the `human` extra: pip install -e .[human]")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # no display needed
    env = gym.make(env_id, render_mode="human", **kwargs)
    try:
        assert env.render_mode == "human"
        env.reset(seed=0)
        _, reward, *_ = env.step(np.zeros(env.action_space.shape, env.action_space.dtype))
        assert np.isfinite(reward)
        assert env.render() is None  # drawn into the window, as Gymnasium's human mode does
        import pygame

        surface = pygame.display.get_surface()
        assert surface is not None and surface.get_width() > 0
    finally:
        env.close()
    assert os.environ["SDL_VIDEODRIVER"] == "dummy"
