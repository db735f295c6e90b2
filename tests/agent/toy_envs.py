"""Every toy env of the agent tests, registered once when this module is imported (also by worker processes,
which import it through ids such as ``toy_envs:Hanging-v0``)."""

import time

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ToyEnv(gym.Env):
    """Five steps; reward -|a - target|^2; NaN reward when a[0] > nan_above; renders a tiny image."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, nan_above: float = np.inf, render_mode=None):
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.nan_above = nan_above
        self.render_mode = render_mode
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.target = self.np_random.uniform(-0.5, 0.5, 2)
        self.t = 0
        return np.array([self.t, self.target[0]], np.float32), {}

    def step(self, action):
        self.t += 1
        reward = -float(np.sum((action - self.target) ** 2))
        if action[0] > self.nan_above:
            reward = float("nan")
        return np.array([self.t, self.target[0]], np.float32), reward, self.t >= 5, False, {}

    def render(self):
        return np.full((4, 6, 3), 10 * self.t, np.uint8)


class ToyPointEnv(gym.Env):
    """A point on a line steered to 0.5; renders a small picture; can return NaN rewards on request, end its
    episodes after a random number of steps, fail to render (like a missing display library), or add a
    ``bonus`` to every reward (a reward term that does not change the dynamics)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, horizon: int = 5, nan_from_step: int | None = None, random_length: bool = False,
                 render_fails: bool = False, bonus: float = 0.0, render_mode=None):
        self.bonus = bonus
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = spaces.Box(-10.0, 10.0, (2,), np.float32)
        self.horizon, self.nan_from_step, self.render_mode = horizon, nan_from_step, render_mode
        self.random_length, self.render_fails = random_length, render_fails

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = float(self.np_random.uniform(-0.1, 0.1)), 0
        self.length = int(self.np_random.integers(1, self.horizon + 1)) if self.random_length else self.horizon
        return np.array([self.x, 0.0], np.float32), {}

    def step(self, action):
        self.x += 0.3 * float(action[0])
        self.t += 1
        reward = -abs(self.x - 0.5) + self.bonus
        if self.nan_from_step is not None and self.t >= self.nan_from_step and action[0] > 0:
            reward = float("nan")
        return np.array([self.x, self.t], np.float32), reward, self.t >= self.length, False, {}

    def render(self):
        if self.render_fails:
            raise ImportError("drawlib is not installed")
        img = np.zeros((8, 16, 3), np.uint8)
        img[:, int(np.clip((self.x + 1) * 7.5, 0, 15))] = 255
        return img


class NaNLater(gym.Env):
    """Episodes of one step; after the first reset (the evaluation at step 0) every reward is NaN."""

    def __init__(self):
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.calls = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.calls += 1
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), float("nan") if self.calls > 1 else 0.0, True, False, {}


class HangingEnv(gym.Env):
    """Three steps of reward ``-|a|``; with reset seed ``hang_seed`` the first step sleeps ``hang_s`` seconds."""

    def __init__(self, hang_seed: int = 7, hang_s: float = 120.0):
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.hang_seed, self.hang_s = hang_seed, hang_s

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.hang = 0, seed == self.hang_seed
        return np.zeros(1, np.float32), {}

    def step(self, action):
        if self.hang:
            time.sleep(self.hang_s)
        self.t += 1
        return np.zeros(1, np.float32), -float(abs(action[0])), self.t >= 3, False, {}


def _register(env_id: str, **kwargs) -> None:
    if env_id not in gym.registry:
        gym.register(env_id, **kwargs)


_register("zgtest/Toy-v0", entry_point=ToyEnv)
_register("zgtest/ToyLimited-v0", entry_point=ToyEnv, max_episode_steps=5)
_register("TestToyPoint-v0", entry_point=ToyPointEnv)
# episodes of 1 to 10 steps under a time limit of 10
_register("TestToyVarLen-v0", entry_point=ToyPointEnv, max_episode_steps=10,
          kwargs={"horizon": 10, "random_length": True})
_register("TestToyDiscrete-v0", entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv",
          max_episode_steps=20)
_register("TestNaNLater-v0", entry_point=NaNLater)
_register("Hanging-v0", entry_point=HangingEnv)
