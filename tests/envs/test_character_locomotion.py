"""zg/CharacterLocomotion-v0: sizes, memory and clients, rewards, falls, render, forks, bad arguments.

The contract every env keeps (checkers, determinism, pickling, bad actions, render) is in test_env_contract.py;
exact resets in test_bullet_reset.py.
"""

import os

import gymnasium as gym
import numpy as np
import pybullet
import pytest

import zg_envs  # noqa: F401  (registers the zg namespace)
from zg_envs.bullet.character_locomotion_v0 import CHARACTERS, CharacterLocomotionEnv

ENV_ID = "zg/CharacterLocomotion-v0"
SIZES = {"hopper": (3, 18), "walker2d": (6, 25), "half_cheetah": (6, 25), "ant": (8, 31), "humanoid": (17, 47)}


@pytest.mark.parametrize("character", list(CHARACTERS))
def test_action_and_observation_sizes_are_the_documented_ones(character):
    env = CharacterLocomotionEnv(character=character)
    n_act, n_obs = SIZES[character]  # the docstring's table: n motors, 11 + 2 n + feet
    assert env.action_space.shape == (n_act,) and env.observation_space.shape == (n_obs,)
    assert n_obs == 11 + 2 * n_act + len(CHARACTERS[character].feet)
    env.close()


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc (Linux)")
def test_many_resets_keep_memory_and_clients_flat():
    env = CharacterLocomotionEnv(character="hopper")
    env.reset(seed=0)
    cid = env.client._client
    for i in range(100):  # warm-up: allocator pools, caches
        env.reset(seed=i)
        env.step(env.action_space.sample())
    before = _rss_mb()
    for i in range(1000):
        env.reset(seed=i)
        env.step(np.zeros(3))
    grown = _rss_mb() - before
    assert env.client._client == cid, "reset must reuse the environment's physics client"
    assert grown < 8.0, f"RSS grew by {grown:.1f} MB over 1000 resets"
    env.close()
    assert pybullet.getConnectionInfo(physicsClientId=cid)["isConnected"] == 0

    humanoid = CharacterLocomotionEnv(character="humanoid")
    humanoid.reset(seed=0)
    before = _rss_mb()
    for i in range(200):
        humanoid.reset(seed=i)
    assert _rss_mb() - before < 8.0
    humanoid.close()

    # creating and closing environments does not pile up connected clients
    ids = []
    for _ in range(20):
        e = CharacterLocomotionEnv(character="hopper")
        e.reset(seed=0)
        ids.append(e.client._client)
        e.close()
    assert all(pybullet.getConnectionInfo(physicsClientId=i)["isConnected"] == 0 for i in set(ids))
    assert len(set(ids)) <= 2, f"closed clients are not given back: ids {sorted(set(ids))}"


def _port_body_xy(env):
    """The port's body position, computed here from the client: mean link centre, base for 3D, floor at 0."""
    client, body = env.client, env._body
    xs = [client.getLinkState(body, j)[0][:2] for j in range(client.getNumJoints(body))]
    if not env.character_spec.planar:
        xs.append(client.getBasePositionAndOrientation(body)[0][:2])
    xs.append((0.0, 0.0))  # the port counts the floor among the parts
    return np.mean(xs, axis=0)


@pytest.mark.parametrize("character", ["hopper", "ant"])
def test_reward_terms_sum_to_the_reward_and_follow_the_ports_definitions(character):
    env = CharacterLocomotionEnv(character=character, forward_weight=2.0, alive_weight=0.5, energy_weight=0.3,
                                 stall_weight=0.2, joint_limit_weight=0.7)
    n = env.action_space.shape[0]
    env.reset(seed=0)
    old = _port_body_xy(env)
    lower, upper = np.array([env.client.getJointInfo(env._body, j)[8:10] for j in env._joints]).T
    rng = np.random.default_rng(0)
    limits_seen = 0
    for _ in range(30):
        action = rng.uniform(-1, 1, n)
        obs, reward, terminated, _, info = env.step(action)
        new = _port_body_xy(env)
        progress = (np.hypot(1000 - old[0], old[1]) - np.hypot(1000 - new[0], new[1])) / env.dt
        old = new
        q, qd = obs[11 : 11 + n], obs[11 + n : 11 + 2 * n]
        at_limit = np.sum(np.abs(2 * (q - lower) / (upper - lower) - 1) > 0.99)
        limits_seen += at_limit
        assert info["reward_forward"] == pytest.approx(2.0 * progress, rel=1e-6, abs=1e-9)
        assert info["reward_alive"] == (-0.5 if terminated else 0.5)
        assert info["reward_energy"] == pytest.approx(-0.3 * np.mean(np.abs(action * qd)))
        assert info["reward_stall"] == pytest.approx(-0.2 * np.mean(action**2))
        assert info["reward_joint_limits"] == pytest.approx(-0.7 * at_limit)
        terms = [info[k] for k in ("reward_forward", "reward_alive", "reward_energy", "reward_stall",
                                   "reward_joint_limits")]
        assert reward == pytest.approx(sum(terms))
        if terminated:
            break
    assert limits_seen > 0  # the joint-limit term was exercised
    env.close()


def test_torques_are_the_ports_power_times_coefficient():
    hopper = CharacterLocomotionEnv(character="hopper")
    assert hopper._torque_scale.tolist() == [75.0, 75.0, 75.0]  # 0.75 * 100, not the file's gear 200
    walker = CharacterLocomotionEnv(character="walker2d")
    assert walker._torque_scale.tolist() == pytest.approx([40, 40, 12, 40, 40, 12])
    hopper.close(), walker.close()


def test_half_cheetah_lying_still_scores_as_in_the_pybullet_port():
    # an independent check against the port itself: zero torques, 200 steps; the cheetah's legs rest on the
    # ground (-1 a step) with joints at their limits, and it never terminates
    import pybullet_envs_gymnasium  # noqa: F401  (a dev dependency: registers the port's envs)

    port = gym.make("HalfCheetahBulletEnv-v0")
    ours = CharacterLocomotionEnv(character="half_cheetah")
    for seed in range(2):
        port.reset(seed=seed), ours.reset(seed=seed)
        totals = np.zeros(2)
        for _ in range(200):
            _, r_port, done_port, _, _ = port.step(np.zeros(6))
            _, r_ours, done_ours, _, _ = ours.step(np.zeros(6))
            totals += (r_port, r_ours)
            assert not done_port and not done_ours
        assert totals[1] == pytest.approx(totals[0], rel=0.03), totals
    port.close(), ours.close()


def test_torques_move_the_character():
    still, pushed = CharacterLocomotionEnv(character="ant"), CharacterLocomotionEnv(character="ant")
    still.reset(seed=0), pushed.reset(seed=0)
    for _ in range(10):
        a = still.step(np.zeros(8))[0]
        b = pushed.step(np.ones(8))[0]
    assert np.abs(a[11:19] - b[11:19]).max() > 0.3  # joint positions differ under torque
    still.close(), pushed.close()


@pytest.mark.parametrize("character", ["hopper", "walker2d", "humanoid"])
def test_falling_terminates(character):
    env = CharacterLocomotionEnv(character=character)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        if terminated:
            break
    assert terminated and info["reward_alive"] == -1.0  # the port's fall
    pitch = env.client.getJointState(env._body, 2)[0] if env.character_spec.planar else 0.0
    assert obs[0] <= env.character_spec.min_height or abs(pitch) >= 1.0


def test_standing_ant_has_feet_on_the_ground():
    env = CharacterLocomotionEnv(character="ant", reset_noise_scale=0.0)
    obs, _ = env.reset(seed=0)
    assert obs[-4:].sum() == 0  # starts above the ground
    for _ in range(40):
        obs, _, terminated, _, _ = env.step(np.zeros(8))
    assert not terminated and obs[-4:].sum() == 4 and 0.3 < obs[0] < 0.5
    env.close()


def test_time_limit_from_registration():
    env = gym.make(ENV_ID, character="half_cheetah")
    assert env.spec.max_episode_steps == 1000 and env.unwrapped.horizon is None  # no limit of the env's own
    env.reset(seed=0)
    for step in range(1, 1001):
        _, _, terminated, truncated, _ = env.step(np.zeros(6))
        if terminated or truncated:
            break
    assert truncated and not terminated and step == 1000
    env.close()


def test_render_follows_the_character():
    env = CharacterLocomotionEnv(character="half_cheetah", render_mode="rgb_array", render_width=96,
                                 render_height=72)
    _, info = env.reset(seed=0)

    def orange_pixels(frame):  # the character's colour, against the grey floor and sky
        r, b = frame[..., 0].astype(int), frame[..., 2].astype(int)
        return int(((r > 120) & (b < 110) & (r - b > 60)).sum())

    start_x, start_frame = info["x_position"], env.render()
    for step in range(60):
        _, _, terminated, _, info = env.step(np.sin(np.arange(6) + 0.4 * step))
        assert not terminated
    moved = info["x_position"] - start_x
    assert abs(moved) > 0.1
    assert env.camera_target().target[0] == pytest.approx(info["x_position"])  # the camera keeps the torso centred
    assert orange_pixels(start_frame) > 50 and orange_pixels(env.render()) > 50  # in view before and after
    env.close()


def test_bad_arguments_raise_clear_errors_and_close_is_safe_twice():
    listed = r"\['hopper', 'walker2d', 'half_cheetah', 'ant', 'humanoid'\]"
    with pytest.raises(ValueError, match=f"character must be one of {listed}, got 'cat'"):
        CharacterLocomotionEnv(character="cat")
    with pytest.raises(ValueError, match="energy_weight"):
        CharacterLocomotionEnv(energy_weight=float("nan"))
    with pytest.raises(ValueError, match="render_width"):
        CharacterLocomotionEnv(render_width=0)
    env = CharacterLocomotionEnv()
    env.reset(seed=0)
    env.close()
    env.close()  # safe twice


def test_async_vector_env_matches_serial():
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(ENV_ID, character="walker2d") for _ in range(2)])
    obs, _ = envs.reset(seed=[1, 2])
    serial = gym.make(ENV_ID, character="walker2d")
    np.testing.assert_array_equal(obs[1], serial.reset(seed=2)[0])
    rng = np.random.default_rng(0)
    for _ in range(10):
        actions = rng.uniform(-0.3, 0.3, (2, 6)).astype(np.float32)
        obs, reward, terminated, truncated, _ = envs.step(actions)
        expected = serial.step(actions[1])
        np.testing.assert_allclose(obs[1], expected[0])
        if terminated[1]:
            break
    envs.close()
    serial.close()


def test_env_built_before_a_fork_connects_in_the_child():
    env = CharacterLocomotionEnv(character="hopper")
    env.reset(seed=0)
    parent_id = env.client._client
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must get a client of its own and step normally
        ok = 0
        try:
            obs, _ = env.reset(seed=0)
            env.step(np.zeros(3))
            ok = int(env.connected and np.isfinite(obs).all())
        finally:
            os.write(write, bytes([ok]))
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"\x01"
    # the parent's client survived the child's reconnect and exit
    assert pybullet.getConnectionInfo(physicsClientId=parent_id)["isConnected"] == 1
    env.step(np.zeros(3))
    env.close()


def test_character_spec_is_not_named_like_env_spec():
    env = gym.make(ENV_ID, character="ant")
    assert env.unwrapped.character_spec is CHARACTERS["ant"] and env.unwrapped.spec.id == ENV_ID
    with pytest.warns(DeprecationWarning, match=r"spec_ is deprecated; use \.character_spec"):
        assert env.unwrapped.spec_ is CHARACTERS["ant"]
    env.close()
