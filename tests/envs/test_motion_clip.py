"""The DeepMimic clip loader: layout, timing, interpolation and clear errors for unreadable files."""

import json

import numpy as np
import pytest

from zg_envs.bullet import humanoid as hm
from zg_envs.bullet import quaternion as quat
from zg_envs.bullet.motion import (
    MOTION_DIR,
    MotionClipError,
    available_motions,
    load_motion_clip,
    resolve_motion,
)

WALK = MOTION_DIR / "humanoid3d_walk.txt"


def test_walk_clip_frame_count_and_duration_match_the_json():
    data = json.loads(WALK.read_text())
    frames = data["Frames"]
    expected_duration = sum(frame[0] for frame in frames[:-1])  # the last frame has nothing after it
    clip = load_motion_clip("walk")
    assert clip.num_frames == len(frames) == 39
    assert clip.duration == pytest.approx(expected_duration, abs=1e-9)
    assert clip.loop == data["Loop"] == "wrap"
    assert clip.frame_times[-1] == pytest.approx(expected_duration)


def test_quaternions_are_reordered_from_w_first_to_pybullet_order():
    frames = np.array(json.loads(WALK.read_text())["Frames"])
    clip = load_motion_clip(WALK)
    w, x, y, z = frames[3, 4:8]
    np.testing.assert_allclose(clip.root_rot[3], np.array([x, y, z, w]) / np.linalg.norm([w, x, y, z]))
    # the chest quaternion follows the root quaternion; the right knee is the 4th joint, one angle
    w, x, y, z = frames[3, 8:12]
    np.testing.assert_allclose(clip.joint_rot[3, 0], np.array([x, y, z, w]) / np.linalg.norm([w, x, y, z]))
    assert clip.joint_angle[3, 0] == frames[3, 8 + 4 + 4 + 4]
    np.testing.assert_allclose(clip.root_pos[3], frames[3, 1:4])
    assert np.all(clip.joint_angle[:, [0, 2]] <= 0.0)  # knees bend one way only in humanoid.urdf


def test_sampling_hits_frames_interpolates_and_wraps_with_the_cycle_offset():
    clip = load_motion_clip("walk")
    ref = clip.sample(clip.frame_times[5])
    np.testing.assert_allclose(ref.root_pos, clip.root_pos[5], atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(ref.joint_rot * clip.joint_rot[5], axis=-1)), 1.0, atol=1e-9)
    mid = clip.sample(0.5 * (clip.frame_times[5] + clip.frame_times[6]))
    np.testing.assert_allclose(mid.root_pos, 0.5 * (clip.root_pos[5] + clip.root_pos[6]), atol=1e-9)
    later = clip.sample(clip.frame_times[5] + clip.duration)
    offset = clip.root_pos[-1] - clip.root_pos[0]
    assert offset[0] > 1.0  # the walk travels along +x
    np.testing.assert_allclose(later.root_pos, clip.root_pos[5] + [offset[0], 0.0, offset[2]], atol=1e-9)


def test_finite_difference_velocities_carry_one_frame_to_the_next():
    clip = load_motion_clip("walk")
    for i in (0, 10, 20):
        dt = clip.frame_durations[i]
        q_next = quat.multiply(clip.joint_rot[i], quat.from_rotvec(clip.joint_ang_vel[i] * dt))
        assert np.all(quat.angle_between(q_next, clip.joint_rot[i + 1]) < 1e-6)
        np.testing.assert_allclose(clip.root_pos[i] + clip.root_lin_vel[i] * dt, clip.root_pos[i + 1], atol=1e-9)


def test_quaternion_helpers_round_trip():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 3))
    v *= (rng.uniform(0.0, 3.0, size=50) / np.linalg.norm(v, axis=1))[:, None]
    np.testing.assert_allclose(quat.to_rotvec(quat.from_rotvec(v)), v, atol=1e-9)
    q = quat.from_rotvec(v)
    np.testing.assert_allclose(quat.angle_between(q, quat.multiply(q, quat.from_rotvec([[0, 0, 0.3]] * 50))), 0.3, atol=1e-9)


def test_every_shipped_clip_loads():
    names = available_motions()
    assert {"walk", "run", "jump", "backflip", "cartwheel", "kick", "punch", "spin", "roll", "dance_a"} <= set(names)
    for name in names:
        clip = load_motion_clip(name)
        assert clip.duration > 0 and clip.joint_rot.shape == (clip.num_frames, hm.NUM_SPHERICAL, 4)


def test_unknown_motion_name_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="walk") as err:
        resolve_motion("moonwalk")
    assert "backflip" in str(err.value) and "moonwalk" in str(err.value)


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "file not found"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"Loop": "wrap"}', "'Frames'"),
        ('{"Loop": "bounce", "Frames": []}', "'Loop' must be one of"),
        ('{"Loop": "wrap", "Frames": [[0.1]]}', "at least 2 frames"),
        ("BAD_LENGTH", "frame 1 has 43 values, expected 44"),
        ("NAN", "frame 0 contains NaN"),
        ("NEGATIVE", "negative duration"),
    ],
)
def test_unreadable_clip_names_the_file_and_the_reason(tmp_path, content, reason):
    frames = json.loads(WALK.read_text())["Frames"][:3]
    if content == "BAD_LENGTH":
        content = json.dumps({"Loop": "wrap", "Frames": [frames[0], frames[1][:-1], frames[2]]})
    elif content == "NAN":
        content = json.dumps({"Loop": "wrap", "Frames": [[float("nan")] + frames[0][1:], frames[1]]})
    elif content == "NEGATIVE":
        content = json.dumps({"Loop": "wrap", "Frames": [[-0.1] + frames[0][1:], frames[1]]})
    path = tmp_path / "clip.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(MotionClipError) as err:
        load_motion_clip(str(path))
    assert str(path) in str(err.value) and reason in str(err.value)
    assert isinstance(err.value, ValueError)
