"""A toy env whose episodes hang (sleep in ``step``) for one reset seed, for the episode-timeout tests.

Importing this module registers ``hanging_env:Hanging-v0``; worker processes import it by that id.
"""

import time

import gymnasium as gym
import numpy as np
from gymnasium import spaces


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


if "Hanging-v0" not in gym.registry:
    gym.register("Hanging-v0", entry_point=HangingEnv)
