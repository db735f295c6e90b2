"""The reference character of zg/CharacterMimic-v0: the clip sampled per control step, its kinematics, its ghost.

* :class:`ClipSampler` gives ``MotionClip.sample(t)`` bit for bit, faster: the slerp's per-frame-interval
  constants (the arc between two frames) are computed once per clip, so a step only blends.
* :class:`ReferenceKinematics` holds, per clip frame, what needs the character's body to compute (link
  positions, end effectors, centre-of-mass velocity), found once by posing the body at every frame.
* :func:`build_ghost` makes the visual-only copy of the character that pictures show beside it.
"""

from __future__ import annotations

import numpy as np
import pybullet

from zg_envs.bullet import humanoid as hm
from zg_envs.bullet.motion import MotionClip, ReferencePose

_sum = np.add.reduce  # what np.sum and np.linalg.norm call, without their Python wrappers


def set_humanoid_state(client, body, root_pos, root_rot, lin_vel, ang_vel, joint_rot, joint_vel, angle, rate):
    """Put the humanoid ``body`` in a pose with velocities (arrays as in :class:`ReferencePose`)."""
    client.resetBasePositionAndOrientation(body, root_pos.tolist(), root_rot.tolist())
    client.resetBaseVelocity(body, lin_vel.tolist(), ang_vel.tolist())
    client.resetJointStatesMultiDof(
        body,
        hm.JOINT_INDICES,
        targetValues=hm.joint_targets(joint_rot, angle),
        targetVelocities=hm.joint_velocities(joint_vel, rate),
    )


class ClipSampler:
    """``sample(t)`` equals ``clip.sample(t)`` bit for bit (the same operations on the same numbers).

    The root and the eight spherical joints are slerped together, as nine rows; what a slerp computes
    from its two end quaternions alone (the sign flip to the shorter arc, the arc angle, its sine) is
    computed here once for every pair of consecutive frames.
    """

    def __init__(self, clip: MotionClip):
        self.clip = clip
        rot = np.concatenate([clip.root_rot[:, None, :], clip.joint_rot], axis=1)  # (n, 9, 4)
        a, b = rot[:-1], rot[1:]
        dot = np.sum(a * b, axis=-1, keepdims=True)
        b = np.where(dot < 0.0, -b, b)
        theta = np.arccos(np.clip(np.abs(dot), -1.0, 1.0))
        sin_theta = np.sin(theta)
        self._near = sin_theta < 1e-6
        self._safe = np.where(self._near, 1.0, sin_theta)
        self._a, self._b, self._theta = a, b, theta

    def sample(self, t: float) -> tuple[ReferencePose, tuple[int, int, float, int]]:
        """The reference pose at time ``t`` and ``clip.locate(t)`` (frames, blend, cycle) for further blends."""
        clip = self.clip
        i, j, a, cycle = where = clip.locate(t)
        t = float(a)
        near, safe, theta = self._near[i], self._safe[i], self._theta[i]
        wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
        wb = np.where(near, t, np.sin(t * theta) / safe)
        q = wa * self._a[i] + wb * self._b[i]
        q = q / np.sqrt(_sum(q * q, axis=-1, keepdims=True))  # np.linalg.norm(q, axis=-1, keepdims=True)
        pose = ReferencePose(
            root_pos=(1 - a) * clip.root_pos[i] + a * clip.root_pos[j] + cycle * clip.cycle_offset,
            root_rot=q[0],
            root_lin_vel=clip.root_lin_vel[i],
            root_ang_vel=clip.root_ang_vel[i],
            joint_rot=q[1:],
            joint_ang_vel=clip.joint_ang_vel[i],
            joint_angle=(1 - a) * clip.joint_angle[i] + a * clip.joint_angle[j],
            joint_rate=clip.joint_rate[i],
        )
        return pose, where


def offset_rotations(q: np.ndarray, rotvec: np.ndarray) -> np.ndarray:
    """``quaternion.multiply(q, quaternion.from_rotvec(rotvec))`` for (n, 4) and (n, 3) float arrays.

    The same operations on the same numbers, without the intermediate quaternion and the axis shuffles
    (once a step, for the PD targets).
    """
    angle = np.sqrt(_sum(rotvec * rotvec, axis=-1))  # np.linalg.norm(rotvec, axis=-1)
    half = 0.5 * angle
    scale = np.where(angle > 1e-12, np.sin(half) / np.maximum(angle, 1e-12), 0.5)
    b = rotvec * scale[:, None]
    bx, by, bz, bw = b[:, 0], b[:, 1], b[:, 2], np.cos(half)
    ax, ay, az, aw = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    out = np.empty_like(q)
    out[:, 0] = aw * bx + ax * bw + ay * bz - az * by
    out[:, 1] = aw * by - ax * bz + ay * bw + az * bx
    out[:, 2] = aw * bz + ax * by - ay * bx + az * bw
    out[:, 3] = aw * bw - ax * bx - ay * by - az * bz
    return out


class ReferenceKinematics:
    """Per clip frame: world positions of the end effectors, the centre of mass and its velocity, link frames.

    Computed once per physics client by posing the (not yet simulated) character ``body`` at every frame;
    ``masses`` are its 15 link masses.
    """

    def __init__(self, client, body: int, clip: MotionClip, masses: np.ndarray):
        self.clip = clip
        ee, com, com_vel, link_pos, link_rot = [], [], [], [], []
        for k in range(clip.num_frames):
            set_humanoid_state(client, body, clip.root_pos[k], clip.root_rot[k], clip.root_lin_vel[k],
                               clip.root_ang_vel[k], clip.joint_rot[k], clip.joint_ang_vel[k], clip.joint_angle[k],
                               clip.joint_rate[k])
            states = client.getLinkStates(body, list(range(hm.NUM_LINKS)), computeLinkVelocity=1,
                                          computeForwardKinematics=1)
            pos = np.array([s[0] for s in states])  # link centres of mass, world
            vel = np.array([s[6] for s in states])
            link_pos.append([s[4] for s in states])  # link frames, world
            link_rot.append([s[5] for s in states])
            ee.append([states[i][4] for i in hm.END_EFFECTORS])
            com.append(masses @ pos / masses.sum())
            com_vel.append(masses @ vel / masses.sum())
        self.ee = np.array(ee)
        self.com = np.array(com)
        self.com_vel = np.array(com_vel)
        self.link_pos = np.array(link_pos)
        self.link_rot = np.array(link_rot)

    def extras(self, where: tuple[int, int, float, int]) -> tuple[np.ndarray, np.ndarray]:
        """End-effector positions (4, 3) and centre-of-mass velocity (3,) at ``where = clip.locate(t)``.

        Both are blended linearly between the two frames around ``t``, like the pose, so the reference
        moves continuously across frame boundaries (no jump in the ``r_com`` target at each new frame).
        """
        i, j, a, cycle = where
        ee = (1 - a) * self.ee[i] + a * self.ee[j] + cycle * self.clip.cycle_offset
        com_vel = (1 - a) * self.com_vel[i] + a * self.com_vel[j]
        return ee, com_vel


def build_ghost(client, body: int) -> list[tuple[int, int]]:
    """The reference character for pictures: one static, visual-only body per link of the humanoid ``body``.

    Returns ``(link, ghost body)`` pairs. Static bodies without collision shapes cost the simulation
    nothing and touch nothing, so the ghost neither changes the physics nor slows ``step()``.
    """
    parts = []
    for shape in client.getVisualShapeData(body):
        link, geom, dims, local_pos, local_rot = shape[1], shape[2], shape[3], shape[5], shape[6]
        if link < 0:
            continue
        kwargs = {
            "rgbaColor": [0.35, 0.55, 1.0, 1.0],
            "visualFramePosition": local_pos,
            "visualFrameOrientation": local_rot,
        }
        if geom == pybullet.GEOM_SPHERE:
            visual = client.createVisualShape(geom, radius=dims[0], **kwargs)
        elif geom == pybullet.GEOM_CAPSULE:
            visual = client.createVisualShape(geom, length=dims[0], radius=dims[1], **kwargs)
        elif geom == pybullet.GEOM_BOX:
            visual = client.createVisualShape(geom, halfExtents=[0.5 * d for d in dims], **kwargs)
        else:  # pragma: no cover - humanoid.urdf uses spheres, capsules and boxes only
            continue
        ghost = client.createMultiBody(
            baseMass=0.0, baseCollisionShapeIndex=-1, baseVisualShapeIndex=visual, basePosition=[0, -10, 0]
        )
        parts.append((link, ghost))
    return parts
