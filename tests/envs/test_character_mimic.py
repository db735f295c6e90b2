"""zg/CharacterMimic-v0: start phase, tracking, reward terms, episode end, rendering, clients, bad arguments.

The contract every env keeps (checkers, determinism, pickling, bad actions, render) is in test_env_contract.py;
exact resets in test_bullet_reset.py.
"""

import gymnasium as gym
import numpy as np
import pybullet
import pytest

import zg_envs  # noqa: F401  (registers the zg namespace)
from zg_envs.bullet import humanoid as hm
from zg_envs.bullet import quaternion as quat
from zg_envs.bullet.character_mimic_v0 import CharacterMimicEnv
from zg_envs.bullet.mimic_reference import ClipSampler, offset_rotations
from zg_envs.bullet.mimic_reward import TERMS, similarities
from zg_envs.bullet.mimic_reward import angle_between as mimic_angle_between

ENV_ID = "zg/CharacterMimic-v0"


def test_the_seed_picks_the_start_phase():
    env = CharacterMimicEnv()  # random_start=True: reference-state initialisation
    phases = [env.reset(seed=seed)[1]["phase"] for seed in (7, 8, 7)]
    assert phases[0] == phases[2] != phases[1] and 0.0 <= min(phases) < max(phases) < 1.0
    fixed = CharacterMimicEnv(random_start=False)
    assert {fixed.reset(seed=seed)[1]["phase"] for seed in (7, 8)} == {0.0}
    env.close(), fixed.close()


def test_zero_offsets_track_the_reference_for_the_first_steps():
    env = CharacterMimicEnv(random_start=False)
    env.reset(seed=0)
    for _ in range(10):
        obs, reward, terminated, truncated, info = env.step(np.zeros(28))
        assert not terminated
        assert info["pose_similarity"] > 0.75 and info["root_similarity"] > 0.8
        assert np.linalg.norm(obs[77:80]) < 0.1  # root within 10 cm of the reference root
        assert 0.0 < reward <= 1.0
    # offsetting every joint by the full action range pulls the pose away from the clip
    env.reset(seed=0)
    follow = [env.step(np.zeros(28))[4]["pose_similarity"] for _ in range(8)]
    env.reset(seed=0)
    offset = [env.step(np.ones(28))[4]["pose_similarity"] for _ in range(8)]
    assert np.mean(offset) < np.mean(follow) - 0.08 and offset[-1] < 0.7 < follow[-1]
    env.close()


def test_reset_state_matches_the_clip_and_every_term_is_reported():
    env = CharacterMimicEnv(random_start=False)
    obs, info = env.reset(seed=0, options={"phase": 0.25})
    assert info["phase"] == pytest.approx(0.25)
    ref = env.clip.sample(0.25 * env.clip.duration)
    assert obs[2] == pytest.approx(ref.root_pos[1], abs=1e-5)
    np.testing.assert_allclose(np.abs(np.sum(obs[3:7] * ref.root_rot)), 1.0, atol=1e-5)
    _, reward, _, _, info = env.step(np.zeros(28))
    parts = ["pose", "velocity", "end_effector", "root", "com"]
    weights = [0.5, 0.05, 0.15, 0.2, 0.1]
    assert all(0.0 < info[f"{p}_similarity"] <= 1.0 for p in parts)
    for p, w in zip(parts, weights):  # the reward_* terms are the weighted similarities ...
        assert info[f"reward_{p}"] == w * info[f"{p}_similarity"]
    assert reward == sum(info[f"reward_{p}"] for p in parts)  # ... and they sum to the reward exactly
    with pytest.raises(ValueError, match="phase"):
        env.reset(options={"phase": 1.5})
    env.close()


def test_reward_weights_are_arguments():
    env = CharacterMimicEnv(random_start=False, pose_weight=1.0, velocity_weight=0.0, end_effector_weight=0.0,
                            root_weight=0.0, com_weight=0.0)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(28))
    assert reward == info["reward_pose"] == info["pose_similarity"] > 0.5
    assert info["reward_velocity"] == info["reward_root"] == 0.0 < info["velocity_similarity"]
    env.close()


def test_episode_truncates_at_max_steps_and_terminates_on_a_fall():
    env = CharacterMimicEnv(episode_length=3, random_start=False)
    env.reset(seed=0)
    flags = [env.step(np.zeros(28))[3] for _ in range(3)]
    assert flags == [False, False, True]
    env.close()

    env = CharacterMimicEnv(episode_length=400, spherical_action_scale=1.0)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(400):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 28))
        if terminated or truncated:
            break
    assert terminated, "wild random offsets must make the humanoid fall"
    client = env.unwrapped.client
    links = {c[3] for c in client.getContactPoints(bodyA=env._body, bodyB=env._plane)}
    assert links - set(hm.FEET), "terminated without a non-foot ground contact"
    env.close()


def test_default_truncation_is_one_clip_duration():
    # with zero offsets the humanoid lands the whole jump clip (1.77 s) from its first frame
    env = CharacterMimicEnv(motion="jump", random_start=False)
    env.reset(seed=0)
    steps = 0
    while True:
        _, _, terminated, truncated, info = env.step(np.zeros(28))
        steps += 1
        if terminated or truncated:
            break
    expected = round(env.clip.duration * 30)
    assert truncated and not terminated
    assert steps == expected == 53 and info["time"] == pytest.approx(expected / 30)
    env.close()


def test_render_shows_character_and_ghost_without_changing_physics():
    plain = CharacterMimicEnv(random_start=False)
    shown = CharacterMimicEnv(random_start=False, render_mode="rgb_array")
    plain.reset(seed=0)
    shown.reset(seed=0)
    for _ in range(6):
        a = plain.step(np.full(28, 0.1))[0]
        b = shown.step(np.full(28, 0.1))[0]
        frame = shown.render()
        np.testing.assert_array_equal(a, b)
    assert frame.shape == (180, 240, 3) and frame.dtype == np.uint8
    orange = (frame[..., 0] > 120) & (frame[..., 2] < 110) & (frame[..., 0].astype(int) - frame[..., 2] > 60)
    blue = (frame[..., 2] > 150) & (frame[..., 0] < 130) & (frame[..., 2].astype(int) - frame[..., 0] > 80)
    assert orange.sum() > 100, "the simulated character is missing from the picture"
    assert blue.sum() > 100, "the reference ghost is missing from the picture"
    # ghost and character stand side by side: their pixel columns differ
    assert abs(np.argwhere(orange)[:, 1].mean() - np.argwhere(blue)[:, 1].mean()) > 20
    with pytest.warns(UserWarning, match="render_mode"):
        assert plain.render() is None
    plain.close(), shown.close()


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="motion must be one of .*walk.*got 'moonwalk'"):
        CharacterMimicEnv(motion="moonwalk")
    missing = tmp_path / "nope.txt"
    with pytest.raises(ValueError, match="nope.txt.*file not found"):
        CharacterMimicEnv(motion=str(missing))
    with pytest.raises(ValueError, match="sim_frequency must be a multiple of control_frequency"):
        CharacterMimicEnv(control_frequency=70)
    with pytest.raises(ValueError, match="pose_weight"):
        CharacterMimicEnv(pose_weight=-1.0)
    with pytest.raises(ValueError, match="render_mode"):
        CharacterMimicEnv(render_mode="human")


def test_close_disconnects_and_is_safe_twice():
    env = CharacterMimicEnv()
    assert not env.connected  # the client is created lazily, in the process that steps the env
    env.reset(seed=0)
    cid = env.client._client
    assert pybullet.getConnectionInfo(physicsClientId=cid)["isConnected"] == 1
    env.close()
    assert pybullet.getConnectionInfo(physicsClientId=cid)["isConnected"] == 0
    env.close()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(28))


def test_async_vector_env_workers_own_their_clients():
    kwargs = {"episode_length": 20}
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(ENV_ID, **kwargs) for _ in range(2)])
    obs, _ = envs.reset(seed=[5, 6])
    serial = gym.make(ENV_ID, **kwargs)
    np.testing.assert_array_equal(obs[0], serial.reset(seed=5)[0])
    actions = np.zeros((2, 28), dtype=np.float32)
    for _ in range(5):
        obs, reward, *_ = envs.step(actions)
        expected = serial.step(actions[0])
        np.testing.assert_allclose(obs[0], expected[0])
        assert reward[0] == pytest.approx(expected[1])
    envs.close()
    serial.close()


@pytest.mark.parametrize("motion", ["walk", "backflip"])
def test_reference_com_velocity_is_continuous_across_frame_boundaries(motion):
    env = CharacterMimicEnv(motion=motion, random_start=False)
    env.reset(seed=0)
    clip, kin = env.clip, env._ref_kin

    def extras(t):
        return kin.extras(clip.locate(t))

    eps = 1e-6
    jumps, steps = [], []
    for k in range(1, clip.num_frames - 1):  # interior frame boundaries
        t = clip.frame_times[k]
        before_ee, before_v = extras(t - eps)
        after_ee, after_v = extras(t + eps)
        jumps.append(np.abs(after_v - before_v).max())
        steps.append(np.abs(kin.com_vel[k] - kin.com_vel[k - 1]).max())
        assert np.abs(after_ee - before_ee).max() < 1e-3  # end effectors were already interpolated
    # the per-frame values differ (so a piecewise-constant reference would jump) ...
    assert max(steps) > 0.05
    # ... but the reference the reward uses moves continuously from one frame to the next
    assert max(jumps) < 1e-3
    # mid-way between two frames it is the blend of both
    t = 0.5 * (clip.frame_times[1] + clip.frame_times[2])
    np.testing.assert_allclose(extras(t)[1], 0.5 * (kin.com_vel[1] + kin.com_vel[2]))
    env.close()


def test_camera_target_is_a_getter_and_render_poses_the_ghost():
    env = CharacterMimicEnv(random_start=False, render_mode="rgb_array", render_width=32, render_height=24)
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.zeros(28))
    client = env.client
    ghost = [body for _, body in env._ghost_parts]

    def ghost_poses():
        return [client.getBasePositionAndOrientation(b) for b in ghost]

    parked = ghost_poses()  # where build_world left them, out of sight
    camera = env.camera_target()
    assert ghost_poses() == parked and env.camera_target() == camera  # no side effect, same answer twice
    env.render()
    posed = ghost_poses()
    assert all(p[0][1] == -10.0 for p in parked)  # parked 10 m below the floor
    assert all(-0.5 < p[0][1] < 2.5 for p in posed)  # posed: standing on the floor, beside the character
    env.close()


@pytest.mark.parametrize("motion", ["walk", "kick", "backflip"])
def test_the_fast_sampler_gives_the_clip_sample_bit_for_bit(motion):
    clip = CharacterMimicEnv(motion=motion).clip
    sampler = ClipSampler(clip)
    times = np.concatenate([clip.frame_times, np.random.default_rng(0).uniform(-0.5, 2.5 * clip.duration, 200),
                            np.arange(0, 2 * clip.duration, 1 / 30)])
    for t in times:
        fast, where = sampler.sample(float(t))
        slow = clip.sample(float(t))
        assert where == clip.locate(float(t))
        for name in slow.__dataclass_fields__:
            assert np.array_equal(getattr(fast, name), getattr(slow, name)), (motion, t, name)


def test_similarities_are_one_for_a_state_equal_to_the_reference():
    ref = CharacterMimicEnv().clip.sample(0.3)
    state = {name: getattr(ref, name) for name in ref.__dataclass_fields__}
    ee = np.random.default_rng(1).normal(size=(4, 3))
    values = similarities(state, ref, ee, ee.copy(), np.ones(3), np.ones(3))
    assert values == {f"{term}_similarity": 1.0 for term in TERMS}
    state["joint_angle"] = ref.joint_angle + 0.2  # a knee or elbow off the clip lowers the pose term only
    values = similarities(state, ref, ee, ee.copy(), np.ones(3), np.ones(3))
    assert values["pose_similarity"] < 1.0 and values["root_similarity"] == values["com_similarity"] == 1.0


def test_the_per_step_quaternion_helpers_give_the_generic_ones_bit_for_bit():
    rng = np.random.default_rng(2)
    q = quat.normalize(rng.normal(size=(8, 4)))
    for v in (rng.normal(size=(8, 3)), np.zeros((8, 3)), 1e-14 * rng.normal(size=(8, 3))):
        assert np.array_equal(offset_rotations(q, v), quat.multiply(q, quat.from_rotvec(v)))
    r = quat.normalize(rng.normal(size=(8, 4)))
    for a, b in ((q, r), (q, q), (q[0], -q[0])):
        assert np.array_equal(mimic_angle_between(a, b), quat.angle_between(a, b))
