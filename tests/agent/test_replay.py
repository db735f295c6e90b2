"""zg-replay: rerun a finished run's saved solution, print its returns, write a video; clear errors."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zg_agent.config import load_config
from zg_agent.replay import ReplayError, replay
from zg_agent.trainers import eval_seeds, read_evaluations, read_status, train

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")


def zg_replay(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "zg_agent.cli.replay", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def shadow_run(root, **fields):
    """ShadowCaster, open-loop: 8-step episodes, 4 candidates, two iterations; two evaluation episodes."""
    over = {"run_root": str(root), "budget": 64, "eval_every": 32, "eval_episodes": 2, "options.popsize": 4,
            "checkpoint_every": 1}
    over.update(fields)
    return train(load_config("random", "zg/ShadowCaster-v0", overrides=over))


@pytest.fixture(scope="module")
def shadow(tmp_path_factory):
    return shadow_run(tmp_path_factory.mktemp("shadow"))


def test_cli_replays_to_the_final_evaluation_and_writes_a_video_of_every_frame(shadow, tmp_path):
    run = shadow.run_dir
    out = tmp_path / "replay.mp4"
    proc = zg_replay(run, "--video", out)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    seeds = eval_seeds(2)
    assert lines[0].startswith(f"episode 1 (reset seed {seeds[0]}): return ") and lines[0].endswith(", 8 steps")
    assert lines[1].startswith(f"episode 2 (reset seed {seeds[1]}): return ")
    final = read_evaluations(run)[-1]["mean_reward"]
    assert f"mean return over 2 episode(s): {final:.6g} (random on zg/ShadowCaster-v0)" in proc.stdout
    assert "the run's final evaluation" in proc.stdout and "(same reset seeds)" in proc.stdout
    # 2 episodes x (the frame after reset + one per step) = 18 frames, read back from the file
    assert f"video: {out} (18 frames at 4 fps)" in proc.stdout
    import imageio.v2 as imageio

    reader = imageio.get_reader(str(out))
    try:
        frames = [f for f in reader]
        assert reader.get_meta_data()["fps"] == 4
    finally:
        reader.close()
    assert len(frames) == 18 and frames[0].ndim == 3 and frames[0].shape[2] == 3
    # the video shows what render() returned (up to the codec's loss and a padding to even sizes)
    res = replay(run, episodes=1, keep_frames=True)
    first = np.asarray(res.frame_list[0])[:, :, :3].astype(float)
    h, w = first.shape[:2]
    assert np.abs(frames[0][:h, :w].astype(float) - first).mean() < 8


def test_returns_equal_the_final_evaluation_exactly(shadow):
    res = replay(shadow.run_dir)
    assert res.seeds == eval_seeds(2) and res.same_protocol and res.lengths == [8, 8]
    assert res.mean_return == shadow.final_return == res.run_final_return
    # other seeds are said to be another protocol
    other = replay(shadow.run_dir, episodes=3, seed=5)
    assert other.seeds == [5, 6, 7] and not other.same_protocol and len(other.returns) == 3


@pytest.mark.parametrize("algo, fields", [
    ("es", {"policy": "linear", "options.popsize": 4}),   # observation statistics come with the solution
    ("ppo", {"options.n_steps": 160, "options.batch_size": 80, "options.n_epochs": 1, "options.n_envs": 1,
             "options.use_sde": False, "options.normalize": True}),   # the model and VecNormalize statistics
])
def test_feedback_policies_replay_to_the_final_evaluation(algo, fields, tmp_path):
    over = {"run_root": str(tmp_path), "max_episode_steps": 40, "eval_every": 320, "eval_episodes": 2,
            "budget": 320, "slice_every": 0, **fields}
    result = train(load_config(algo, "Pendulum-v1", overrides=over))
    assert result.status == "finished"
    res = replay(result.run_dir)
    assert res.lengths == [40, 40] and res.same_protocol
    assert res.mean_return == pytest.approx(result.final_return, rel=1e-12, abs=1e-12)


def test_not_a_run_folder_and_bad_arguments_exit_2_without_a_traceback(shadow, tmp_path):
    for args, words in [
        ([tmp_path], ["is not a run folder (no config.yaml)"]),
        ([tmp_path / "missing"], ["is not a run folder (no such folder)"]),
        ([shadow.run_dir, "--episodes", "0"], ["--episodes", "must be a positive integer, got '0'"]),
        ([shadow.run_dir, "--episodes", "two"], ["--episodes", "got 'two'"]),
        ([shadow.run_dir, "--seed", "-1"], ["--seed", "non-negative"]),
        ([shadow.run_dir, "--video", tmp_path / "out.txt"], ["must end in one of .mp4"]),
        ([shadow.run_dir, "--video", tmp_path / "nope" / "out.mp4"], ["does not exist"]),
    ]:
        proc = zg_replay(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == ""
        for w in words:
            assert w in proc.stderr, (w, proc.stderr)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.yaml").write_text("algo: [unclosed\n")
    proc = zg_replay(tmp_path / "bad")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "cannot read" in proc.stderr


def test_a_folder_of_runs_names_them(shadow):
    proc = zg_replay(shadow.run_dir.parent)
    assert proc.returncode == 2 and f"it holds run folders, give one of them: {shadow.run_dir.name}" in proc.stderr


def test_rendering_that_needs_a_missing_library_is_an_error_not_a_traceback(tmp_path, monkeypatch):
    over = {"run_root": str(tmp_path), "max_episode_steps": 20, "eval_every": 80, "eval_episodes": 1,
            "budget": 80, "options.popsize": 4, "policy": "linear"}
    run = train(load_config("random", "Pendulum-v1", overrides=over)).run_dir
    monkeypatch.setitem(sys.modules, "pygame", None)  # Pendulum draws with pygame: as if it were not installed
    with pytest.raises(ReplayError, match=r"env 'Pendulum-v1' failed to render: DependencyNotInstalled.*pygame"):
        replay(run, video=tmp_path / "pendulum.mp4")
    assert not (tmp_path / "pendulum.mp4").exists()
    assert replay(run).lengths == [20]  # replaying without a video needs no rendering


def test_zg_replay_is_an_entry_point():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["zg-replay"] == "zg_agent.cli:replay_main"


def test_a_run_without_a_saved_solution_yet(tmp_path):
    def stop(trainer):
        trainer.request_stop()

    over = {"run_root": str(tmp_path), "budget": 640, "eval_every": 32, "eval_episodes": 1, "options.popsize": 4}
    result = train(load_config("random", "zg/ShadowCaster-v0", overrides=over), callback=stop)
    run = result.run_dir
    assert read_status(run)["state"] == "interrupted" and not (run / "solution.pkl").exists()
    proc = zg_replay(run)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "has no saved solution yet" in proc.stderr and "is interrupted at 32 env steps" in proc.stderr
    assert f"zg-train --resume {run}" in proc.stderr
    with pytest.raises(ReplayError, match="no saved solution yet"):
        replay(run)
