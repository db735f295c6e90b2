"""Motion clips in the DeepMimic JSON format, as shipped in ``pybullet_data/data/motions``.

A clip file is a JSON object::

    {"Loop": "wrap" | "none", "Frames": [[duration, root_x, root_y, root_z, root_qw, root_qx, root_qy,
    root_qz, chest_qw, chest_qx, ..., left_elbow], ...]}

Each frame holds 44 numbers: the time to the next frame in seconds, the root (pelvis) position in metres
in a Y-up world, the root orientation as a quaternion **w first**, then the joints of
:data:`zg_envs.bullet.humanoid.JOINTS` in order: a quaternion (w first) for each spherical joint and one
angle in radians for each revolute joint (knees, elbows). The clip's duration is the sum of the frame
durations except the last frame's (nothing follows the last frame; the shipped clips give it 0).

Internally every quaternion is stored in PyBullet's (x, y, z, w) order. Velocities are finite differences
between consecutive frames: world-frame linear and angular velocity of the root, joint-local angular
velocity for spherical joints (PyBullet's convention for ``getJointStateMultiDof``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet_data

from zg_envs.bullet import humanoid as hm
from zg_envs.bullet import quaternion as quat

MOTION_DIR = Path(pybullet_data.getDataPath()) / "data" / "motions"
_PREFIX = "humanoid3d_"
LOOP_MODES = ("wrap", "none")


class MotionClipError(ValueError):
    """A motion clip file that cannot be read; the message names the file and the reason."""


def available_motions() -> list[str]:
    """Names of the humanoid clips shipped with pybullet (``walk``, ``run``, ``backflip``, ...)."""
    return sorted(p.name[len(_PREFIX) : -len(".txt")] for p in MOTION_DIR.glob(f"{_PREFIX}*.txt"))


def resolve_motion(motion: str | Path) -> Path:
    """Path of a clip given by shipped name (``"walk"``) or by a file path.

    Raises ``ValueError`` listing the shipped names when ``motion`` is neither.
    """
    if isinstance(motion, Path):
        return motion
    if not isinstance(motion, str) or not motion:
        raise ValueError(f"motion must be a clip name in {available_motions()} or a path, got {motion!r}")
    if motion in available_motions():
        return MOTION_DIR / f"{_PREFIX}{motion}.txt"
    path = Path(motion)
    looks_like_path = path.suffix != "" or "/" in motion or "\\" in motion
    if looks_like_path or path.exists():
        return path
    raise ValueError(
        f"motion must be one of {available_motions()} or a path to a clip file, got {motion!r}"
    )


@dataclass(frozen=True)
class ReferencePose:
    """The reference character at one instant; quaternions in (x, y, z, w) order."""

    root_pos: np.ndarray  # (3,)
    root_rot: np.ndarray  # (4,)
    root_lin_vel: np.ndarray  # (3,) world frame
    root_ang_vel: np.ndarray  # (3,) world frame
    joint_rot: np.ndarray  # (8, 4) spherical joints
    joint_ang_vel: np.ndarray  # (8, 3) spherical joints, joint-local frame
    joint_angle: np.ndarray  # (4,) revolute joints
    joint_rate: np.ndarray  # (4,) revolute joints


class MotionClip:
    """A loaded clip: frames as arrays, plus sampling at any time with interpolation.

    ``sample(t)`` interpolates between frames (linear for positions and angles, slerp for quaternions).
    For a ``"wrap"`` clip time runs on past the end: the clip repeats and the root is carried forward by
    the horizontal displacement of one cycle (``cycle_offset``), so a walk keeps walking. For a ``"none"``
    clip the pose holds the last frame after the end.
    """

    def __init__(self, path: Path, loop: str, frames: np.ndarray):
        self.path = Path(path)
        self.loop = loop
        self.frames = frames
        n = frames.shape[0]
        self.frame_durations = frames[:, 0].copy()
        self.frame_times = np.concatenate([[0.0], np.cumsum(self.frame_durations[:-1])])
        self.duration = float(self.frame_times[-1])
        self.root_pos = frames[:, 1:4].copy()
        self.root_rot = quat.normalize(frames[:, [5, 6, 7, 4]])
        joints = frames[:, 8:]
        offsets = np.cumsum([0] + [4 if j.spherical else 1 for j in hm.JOINTS])
        sph = [joints[:, offsets[s] : offsets[s] + 4][:, [1, 2, 3, 0]] for s in hm.SPHERICAL_SLOTS]
        self.joint_rot = quat.normalize(np.stack(sph, axis=1))  # (n, 8, 4)
        self.joint_angle = np.stack([joints[:, offsets[s]] for s in hm.REVOLUTE_SLOTS], axis=1)  # (n, 4)
        delta = self.root_pos[-1] - self.root_pos[0]
        delta[1] = 0.0  # only the horizontal drift accumulates over cycles (Y is up)
        self.cycle_offset = delta if loop == "wrap" else np.zeros(3)

        # finite-difference velocities of frame i -> i+1; the last frame repeats the one before
        dt = np.maximum(self.frame_durations[:-1], 1e-6)[:, None]
        lin = np.diff(self.root_pos, axis=0) / dt
        ang = quat.to_rotvec(quat.multiply(self.root_rot[1:], quat.conjugate(self.root_rot[:-1]))) / dt
        jvel = quat.to_rotvec(quat.multiply(quat.conjugate(self.joint_rot[:-1]), self.joint_rot[1:]))
        jvel = jvel / dt[:, :, None]
        rate = np.diff(self.joint_angle, axis=0) / dt
        zero_step = self.frame_durations[:-1] <= 1e-6
        for arr in (lin, ang, jvel, rate):
            arr[zero_step] = 0.0
        self.root_lin_vel = np.concatenate([lin, lin[-1:]])
        self.root_ang_vel = np.concatenate([ang, ang[-1:]])
        self.joint_ang_vel = np.concatenate([jvel, jvel[-1:]])
        self.joint_rate = np.concatenate([rate, rate[-1:]])
        self.num_frames = n

    def __repr__(self) -> str:
        return (
            f"MotionClip({self.path.name!r}, loop={self.loop!r}, frames={self.num_frames}, "
            f"duration={self.duration:.3f}s)"
        )

    def locate(self, t: float) -> tuple[int, int, float, int]:
        """(frame i, frame i+1, blend in [0, 1], completed cycles) of time ``t`` in seconds."""
        if self.loop == "wrap":
            cycle = math.floor(t / self.duration)
            local = t - cycle * self.duration
        else:
            cycle = 0
            local = min(max(t, 0.0), self.duration)
        i = int(np.searchsorted(self.frame_times, local, side="right")) - 1
        i = min(max(i, 0), self.num_frames - 2)
        span = self.frame_durations[i]
        alpha = 0.0 if span <= 1e-9 else min(max((local - self.frame_times[i]) / span, 0.0), 1.0)
        return i, i + 1, alpha, cycle

    def sample(self, t: float) -> ReferencePose:
        """The interpolated reference pose and velocities at time ``t`` (seconds from the clip start)."""
        i, j, a, cycle = self.locate(t)
        return ReferencePose(
            root_pos=(1 - a) * self.root_pos[i] + a * self.root_pos[j] + cycle * self.cycle_offset,
            root_rot=quat.slerp(self.root_rot[i], self.root_rot[j], a),
            root_lin_vel=self.root_lin_vel[i].copy(),
            root_ang_vel=self.root_ang_vel[i].copy(),
            joint_rot=quat.slerp(self.joint_rot[i], self.joint_rot[j], a),
            joint_ang_vel=self.joint_ang_vel[i].copy(),
            joint_angle=(1 - a) * self.joint_angle[i] + a * self.joint_angle[j],
            joint_rate=self.joint_rate[i].copy(),
        )


def load_motion_clip(motion: str | Path) -> MotionClip:
    """Load a clip by shipped name (see :func:`available_motions`) or by path.

    Raises :class:`MotionClipError` (a ``ValueError``) naming the file and the reason when the file is
    missing, is not JSON, or does not hold at least two frames of 44 finite numbers with non-negative
    durations; ``ValueError`` listing the shipped names for an unknown name.
    """
    path = resolve_motion(motion)

    def fail(reason: str) -> MotionClipError:
        return MotionClipError(f"cannot read motion clip {str(path)!r}: {reason}")

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise fail("file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise fail(f"{type(err).__name__}: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise fail(f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise fail(f"expected a JSON object with 'Loop' and 'Frames', got {type(data).__name__}")
    if "Frames" not in data:
        raise fail("missing the 'Frames' list")
    loop = data.get("Loop", "none")
    if loop not in LOOP_MODES:
        raise fail(f"'Loop' must be one of {list(LOOP_MODES)}, got {loop!r}")
    raw = data["Frames"]
    if not isinstance(raw, list) or len(raw) < 2:
        got = f"{len(raw)} frames" if isinstance(raw, list) else repr(raw)
        raise fail(f"'Frames' must be a list of at least 2 frames, got {got}")
    for k, frame in enumerate(raw):
        if not isinstance(frame, list) or len(frame) != hm.FRAME_SIZE:
            size = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise fail(
                f"frame {k} has {size} values, expected {hm.FRAME_SIZE} (duration, root position 3, "
                f"root quaternion 4, 8 joint quaternions, 4 joint angles)"
            )
    try:
        frames = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise fail(f"frames must hold numbers only ({err})") from None
    if not np.all(np.isfinite(frames)):
        k = int(np.flatnonzero(~np.all(np.isfinite(frames), axis=1))[0])
        raise fail(f"frame {k} contains NaN or inf")
    if np.any(frames[:, 0] < 0):
        k = int(np.flatnonzero(frames[:, 0] < 0)[0])
        raise fail(f"frame {k} has a negative duration {frames[k, 0]}")
    if frames[:-1, 0].sum() <= 0:
        raise fail("the frame durations add up to zero")
    quats = [frames[:, 4:8]] + [frames[:, 8 + o : 12 + o] for o in _quat_offsets()]
    for q in quats:
        if np.any(np.linalg.norm(q, axis=1) < 1e-6):
            raise fail("a quaternion has zero length")
    return MotionClip(path, loop, frames)


def _quat_offsets() -> list[int]:
    offsets = np.cumsum([0] + [4 if j.spherical else 1 for j in hm.JOINTS])
    return [int(offsets[s]) for s in hm.SPHERICAL_SLOTS]
