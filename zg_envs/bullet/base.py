"""A small base class for PyBullet environments: one physics client per environment instance.

Each instance owns a ``pybullet_utils.bullet_client.BulletClient`` in DIRECT mode (no window, nothing
global). The client is created lazily, on the first ``reset``/``step``/``render`` in the process that
steps the environment, so an environment built in a parent process and used in a
``gymnasium.vector.AsyncVectorEnv`` worker (or after a fork) always simulates in its own client.

Subclasses fill three hooks, in the spirit of Gymnasium's MuJoCo base class:

* ``build_world(client)``: load the bodies once per client (the ground, the character, ...) and return
  the ground's body id. The world state right after it is saved with ``saveState``; every ``reset``
  restores it and then clears the contact cache (below), so nothing leaks from one episode into the next
  and the same seed replays the same rollout bit for bit, whatever ran before.
* ``reset_model(options)``: put the character in its starting state (drawing only from
  ``self.np_random``; ``options`` is ``reset``'s dict) and return ``(observation, info)``.
* ``camera_target()``: what the ``rgb_array`` camera looks at; a getter, with no side effect.
* ``pose_visuals()`` (optional): move visual-only bodies (CharacterMimic's reference ghost) to the
  current state. ``render()`` calls it just before taking the picture; it must leave every simulated
  body alone, so that rendering never changes the physics.

Timing is given as two frequencies, validated here for every subclass: the physics runs at
``sim_frequency`` steps per second and the policy acts at ``control_frequency`` (a divisor of it).
``dt = 1 / control_frequency`` is the control period: ``frame_skip = sim_frequency // control_frequency``
physics sub-steps of ``sim_timestep = 1 / sim_frequency`` each. One ``do_simulation()`` call advances
``dt`` with a single ``stepSimulation`` (PyBullet runs the sub-steps internally, ``numSubSteps``), so motor
commands are set once per control step and hold over its sub-steps.

Why ``restoreState`` alone is not enough: it restores positions, velocities and the contact manifolds
it saved, but leaves alone the manifolds the collision dispatcher created since. The world is saved
before any contact exists, so after a restore the previous episode's last contact points were still
there, and ``getContactPoints`` read them: the first observation reported a foot on the ground that was
in the air, and a feedback policy acted on it. Every contact here involves the ground (one character, no
self-collision), so ``reset`` takes the ground out of the collision world and puts it back
(``setCollisionFilterGroupMask`` re-inserts the collider), which releases all its manifolds: the next
step builds them afresh, in the same order, as in a new env. ``reset`` then checks that no contact point
is left, so a subclass that breaks this assumption fails loudly instead of silently.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from zg_envs.utils import (check_int_arg, check_memory, check_reset_options, episode_ended_error,
                           warn_no_render_mode)

#: Memory of one env apart from its pictures: the physics client, the world and its saved copy (the
#: humanoids need well under this).
WORLD_BYTES = 64 * 2**20
#: Bytes per pixel of a render: TinyRenderer's colour, depth and mask buffers, the RGBA array PyBullet
#: returns and our RGB copy.
RENDER_BYTES_PER_PIXEL = 32

#: collision filter of the ground, Bullet's default for static objects: group StaticFilter (2), mask
#: AllFilter ^ StaticFilter (everything but other static objects)
GROUND_FILTER = (2, -1 ^ 2)

try:  # flushing C's stdio buffer keeps buffered C prints from escaping after fd 1 is restored
    _LIBC = ctypes.CDLL(None)
except OSError:  # pragma: no cover - non-POSIX platforms
    _LIBC = None


@contextlib.contextmanager
def silenced_stdout():
    """Send whatever C code prints to file descriptor 1 to /dev/null while the block runs.

    PyBullet prints ``argv[0]=`` on every connection and URDF/MJCF importer warnings from C, which
    ``contextlib.redirect_stdout`` cannot catch; this redirects the descriptor itself and restores it.
    """
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError):
        pass
    try:
        saved = os.dup(1)
    except OSError:  # no usable descriptor 1: nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        if _LIBC is not None:
            _LIBC.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True)
class Camera:
    """A camera orbiting a target point; angles in degrees, PyBullet's yaw/pitch convention."""

    target: tuple[float, float, float]
    distance: float
    yaw: float
    pitch: float
    up_axis: int = 2  # 1 for Y-up worlds, 2 for Z-up worlds


class BulletEnv(gym.Env):
    """Base class: lazy per-instance PyBullet client, saved initial world, fixed-step simulation, camera."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        *,
        control_frequency: int,
        sim_frequency: int,
        render_mode: str | None = None,
        render_width: int = 240,
        render_height: int = 180,
        gravity: tuple[float, float, float] = (0.0, 0.0, -9.81),
        solver_iterations: int = 50,
    ):
        control_frequency = check_int_arg("control_frequency", control_frequency, 1)
        sim_frequency = check_int_arg("sim_frequency", sim_frequency, 1)
        if sim_frequency % control_frequency != 0:
            raise ValueError(
                f"sim_frequency must be a multiple of control_frequency, got sim_frequency={sim_frequency} "
                f"and control_frequency={control_frequency}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.control_frequency = control_frequency
        self.sim_frequency = sim_frequency
        self.frame_skip = sim_frequency // control_frequency
        self.sim_timestep = 1.0 / sim_frequency
        self.solver_iterations = check_int_arg("solver_iterations", solver_iterations, 1)
        self.render_mode = render_mode
        self.render_width = check_int_arg("render_width", render_width, 16, 4096)
        self.render_height = check_int_arg("render_height", render_height, 16, 4096)
        self.gravity = tuple(float(g) for g in gravity)
        self.metadata = {**self.metadata, "render_fps": control_frequency}
        self._client: BulletClient | None = None
        self._client_pid: int | None = None
        self._initial_state: int | None = None
        self._ground = -1
        self._episode_over = True  # no episode yet: step() needs a reset() first

    def check_memory(self, extra_bytes: float = 0.0, extra: str = "") -> None:
        """Refuse arguments above the memory bound; subclasses call it at the end of ``__init__``.

        The estimate is :data:`WORLD_BYTES`, plus :data:`RENDER_BYTES_PER_PIXEL` per pixel of a render,
        plus ``extra_bytes`` (what the subclass keeps per argument, for example a clip's frames).
        """
        pixels = self.render_width * self.render_height if self.render_mode is not None else 0
        check_memory(self._env_name(), WORLD_BYTES + RENDER_BYTES_PER_PIXEL * pixels + extra_bytes,
                     f"render {self.render_width} x {self.render_height}{extra}",
                     "lower render_width and render_height")

    # ------------------------------------------------------------------ client life cycle
    @property
    def dt(self) -> float:
        """Control period in seconds: ``frame_skip * sim_timestep`` (= ``1 / control_frequency``)."""
        return self.frame_skip * self.sim_timestep

    @property
    def client(self) -> BulletClient:
        """This instance's physics client, connected on first use in the current process."""
        if self._client is None or self._client_pid != os.getpid():
            self._connect()
        return self._client  # type: ignore[return-value]

    @property
    def connected(self) -> bool:
        """Whether this instance holds a live physics client in this process."""
        return self._client is not None and self._client_pid == os.getpid()

    def _connect(self) -> None:
        # A client inherited through fork belongs to the parent: forget it (its finaliser checks the pid
        # and leaves the parent's connection alone) and connect afresh.
        self._client = None
        with silenced_stdout():
            client = BulletClient(connection_mode=pybullet.DIRECT)
        if client._client < 0:  # pragma: no cover - only when the physics server cannot start
            raise RuntimeError("could not start a PyBullet DIRECT physics client")
        self._client, self._client_pid = client, os.getpid()
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        client.setGravity(*self.gravity)
        client.setPhysicsEngineParameter(
            fixedTimeStep=self.dt,
            numSubSteps=self.frame_skip,
            numSolverIterations=self.solver_iterations,
            deterministicOverlappingPairs=1,
        )
        with silenced_stdout():  # importer warnings (e.g. URDF joints without an axis) are printed from C
            ground = self.build_world(client)
        if not isinstance(ground, int) or ground < 0:  # pragma: no cover - a subclass bug
            raise TypeError(f"{type(self).__name__}.build_world must return the ground's body id, got {ground!r}")
        self._ground = ground
        self._initial_state = client.saveState()

    def close(self) -> None:
        """Disconnect the physics client; safe to call more than once."""
        client, self._client = self._client, None
        if client is not None and self._client_pid == os.getpid() and client._client >= 0:
            try:
                pybullet.disconnect(physicsClientId=client._client)
            except pybullet.error:  # already gone
                pass
            client._client = -1
        self._initial_state = None
        super().close()

    def __del__(self):  # the client's own finaliser would do it too; be explicit
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    # ------------------------------------------------------------------ hooks
    def build_world(self, client: BulletClient) -> int:  # pragma: no cover - abstract
        """Load the bodies into ``client`` and return the ground's body id.

        The ground must be a multibody (loaded without ``useMaximalCoordinates``): ``reset`` re-inserts
        it, and ``restoreState`` cannot find a maximal-coordinates body once it has been re-inserted.
        """
        raise NotImplementedError

    def reset_model(self, options: dict) -> tuple[np.ndarray, dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def camera_target(self) -> Camera:  # pragma: no cover - abstract
        raise NotImplementedError

    def pose_visuals(self) -> None:
        """Move visual-only bodies to the current state before a picture; nothing by default."""

    #: ``reset(options=...)`` keys a subclass understands; any other key is an error
    reset_options: tuple[str, ...] = ()

    # ------------------------------------------------------------------ Gymnasium API pieces
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = check_reset_options(options, self.reset_options, self._env_name())
        super().reset(seed=seed)
        client = self.client
        client.restoreState(stateId=self._initial_state)
        self._forget_contacts(client)
        self._episode_over = False
        return self.reset_model(options)

    def _forget_contacts(self, client: BulletClient) -> None:
        """Release every contact manifold left by the previous episode (see the module docstring)."""
        client.setCollisionFilterGroupMask(self._ground, -1, *GROUND_FILTER)
        left = client.getContactPoints()
        if left:  # pragma: no cover - only if a subclass adds contacts not involving the ground
            raise RuntimeError(
                f"{self._env_name()}: {len(left)} contact points survive reset(); the reset would not be exact"
            )

    def _env_name(self) -> str:
        return self.spec.id if self.spec is not None else type(self).__name__

    def check_running(self) -> None:
        """Raise unless an episode is running: call at the top of ``step``."""
        if not self.connected or self._episode_over:
            raise episode_ended_error(self._env_name())

    def end_step(self, terminated: bool, truncated: bool) -> None:
        """Record the end of a ``step``: after ``terminated`` or ``truncated`` the episode is over."""
        self._episode_over = bool(terminated or truncated)

    def do_simulation(self) -> None:
        """Advance the simulation by ``dt`` (``frame_skip`` internal sub-steps)."""
        self.client.stepSimulation()

    def render(self):
        if self.render_mode is None:
            warn_no_render_mode()
            return None
        self.pose_visuals()
        return self.render_rgb(self.camera_target())

    def render_rgb(self, camera: Camera) -> np.ndarray:
        """A (render_height, render_width, 3) uint8 picture from PyBullet's TinyRenderer."""
        client = self.client
        view = client.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=list(camera.target),
            distance=camera.distance,
            yaw=camera.yaw,
            pitch=camera.pitch,
            roll=0.0,
            upAxisIndex=camera.up_axis,
        )
        proj = client.computeProjectionMatrixFOV(
            fov=60.0, aspect=self.render_width / self.render_height, nearVal=0.05, farVal=50.0
        )
        _, _, rgba, _, _ = client.getCameraImage(
            self.render_width,
            self.render_height,
            viewMatrix=view,
            projectionMatrix=proj,
            renderer=pybullet.ER_TINY_RENDERER,
            flags=pybullet.ER_NO_SEGMENTATION_MASK,
        )
        rgba = np.asarray(rgba, dtype=np.uint8).reshape(self.render_height, self.render_width, 4)
        return np.ascontiguousarray(rgba[:, :, :3])
