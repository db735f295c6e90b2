"""Shadow art through a neural parameterisation: torch Adam on a decoder, ZeroGrads across the hard shadows.

The sculpture of ``zg/ShadowArt-v0`` (K^3 voxels, a voxel is solid where its value is > 0) is produced by a
coordinate MLP: Fourier features of each voxel centre -> two hidden layers -> one value per voxel. The
shadow loss is a black box (visibility has no useful gradient), wrapped by
:class:`zg_agent.torch.ZeroGradsFunction`; ``loss.backward()`` sends the surrogate's gradient through the
decoder, and torch Adam updates the decoder's weights. The same wrapper and the same number of black-box
evaluations also optimise the voxels directly (theta = the K^3 values), and both sit next to their
references: the empty start and the visual hull of the targets (the classical construction).

    python scripts/example_shadow_art_decoder.py                   # K = 16, 20,000 evaluations, ~1 min
    python scripts/example_shadow_art_decoder.py --grid 32 --evaluations 50000

Writes docs/torch_shadow_art.png (curves and both final designs) and prints a table.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import zg_envs  # noqa: E402,F401  (registers the zg namespace)
from zg_agent.torch import ZeroGradsFunction  # noqa: E402

START = -0.5  # an empty sculpture that perturbations of size sigma can fill voxel by voxel (see configs)


class ShadowLoss:
    """The black box: ``(n, K^3)`` designs -> ``(n,)`` mean image losses of ShadowArt-v0 (one step each)."""

    def __init__(self, env: gym.Env):
        self.env = env

    def __call__(self, designs: np.ndarray) -> np.ndarray:
        losses = np.empty(len(designs))
        for i, design in enumerate(designs):
            self.env.reset()
            losses[i] = self.env.step(design.astype(np.float32))[4]["loss"]
        return losses


class CoordinateDecoder(torch.nn.Module):
    """Voxel centre -> occupancy value: Fourier features and a small MLP, starting at ``START`` everywhere."""

    def __init__(self, grid: int, bands: int = 4, width: int = 64):
        super().__init__()
        c = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid * 2 - 1
        xyz = torch.stack(torch.meshgrid(c, c, c, indexing="ij"), dim=-1).reshape(-1, 3)  # the env's voxel order
        angles = xyz[:, :, None] * (2.0 ** torch.arange(bands)) * math.pi
        self.register_buffer("features", torch.cat([xyz, angles.sin().flatten(1), angles.cos().flatten(1)], 1))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(self.features.shape[1], width), torch.nn.SiLU(),
            torch.nn.Linear(width, width), torch.nn.SiLU(), torch.nn.Linear(width, 1),
        )
        with torch.no_grad():
            self.net[-1].weight.mul_(0.01)
            self.net[-1].bias.fill_(START)

    def forward(self) -> torch.Tensor:
        return self.net(self.features).squeeze(-1)


def run(kind: str, env: gym.Env, evaluations: int, seed: int, sigma: float, popsize: int,
        lr: float) -> dict:
    """Optimise ``kind`` ("voxels" or "decoder") for ``evaluations`` black-box calls; curve of exact losses."""
    torch.manual_seed(seed)
    dim = env.unwrapped.grid ** 3
    black_box = ZeroGradsFunction(ShadowLoss(env), dim=dim, sigma=sigma, popsize=popsize, seed=seed)
    if kind == "voxels":
        voxels = torch.nn.Parameter(torch.full((dim,), START))
        params, design = [voxels], (lambda: voxels)
    else:
        decoder = CoordinateDecoder(env.unwrapped.grid)
        params, design = list(decoder.parameters()), decoder
    # Less momentum than Adam's usual 0.9: the surrogate already averages over its stored batches.
    opt = torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    curve, started = [], time.perf_counter()
    record_every = max(1, evaluations // popsize // 50)
    step = 0
    while black_box.num_evaluations + black_box.evaluations_per_call() <= evaluations:
        opt.zero_grad()
        black_box(design()).backward()
        opt.step()
        step += 1
        if step % record_every == 0:
            with torch.no_grad():  # the exact loss of the current design, for the curve (not in the budget)
                curve.append((black_box.num_evaluations, float(ShadowLoss(env)(design()[None].numpy())[0])))
    with torch.no_grad():
        final = design().numpy().copy()
    loss = float(ShadowLoss(env)(final[None])[0])
    return {"kind": kind, "final": final, "loss": loss, "curve": curve, "seconds": time.perf_counter() - started,
            "num_params": sum(p.numel() for p in params), "evaluations": black_box.num_evaluations}


def picture(env: gym.Env, design: np.ndarray) -> np.ndarray:
    env.reset()
    env.step(design.astype(np.float32))
    return env.render()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", type=int, default=16, help="voxels per side K (default 16: 4,096 voxels)")
    parser.add_argument("--evaluations", type=int, default=20_000, help="black-box evaluations per method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sigma", type=float, default=0.3, help="ZeroGrads' sampling std, in voxel-value units")
    parser.add_argument("--popsize", type=int, default=16)
    parser.add_argument("--lr-voxels", type=float, default=0.02, help="Adam step size on the voxels")
    parser.add_argument("--lr-decoder", type=float, default=5e-3, help="Adam step size on the decoder")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "torch_shadow_art.png")
    args = parser.parse_args(argv)
    if args.popsize < 2 or args.popsize % 2:
        parser.error(f"--popsize must be an even number >= 2 (antithetic pairs), got {args.popsize}")
    if args.evaluations < args.popsize:
        parser.error(f"--evaluations must be at least --popsize ({args.popsize}), got {args.evaluations}")

    env = gym.make("zg/ShadowArt-v0", grid=args.grid, render_mode="rgb_array")
    dim = args.grid ** 3
    empty = ShadowLoss(env)(np.full((1, dim), START))[0]
    hull = env.unwrapped.visual_hull()
    hull_loss = ShadowLoss(env)(hull[None])[0]
    results = [run("voxels", env, args.evaluations, args.seed, args.sigma, args.popsize, args.lr_voxels),
               run("decoder", env, args.evaluations, args.seed, args.sigma, args.popsize, args.lr_decoder)]

    print(f"ShadowArt-v0 K={args.grid} ({dim:,} voxels), {args.evaluations:,} black-box evaluations, seed {args.seed}")
    print("| design | parameters | loss | normalised (0 = empty start, 1 = visual hull) | seconds |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| empty start | - | {empty:.4f} | 0.00 | - |")
    for r in results:
        norm = (empty - r["loss"]) / (empty - hull_loss)
        print(f"| {r['kind']} (ZeroGrads + torch Adam) | {r['num_params']:,} | {r['loss']:.4f} | {norm:.2f} | "
              f"{r['seconds']:.1f} |")
    print(f"| visual hull | - | {hull_loss:.4f} | 1.00 | - |")
    save_figure(args, env, results, empty, hull_loss)
    print(f"wrote {args.out}")
    return 0


def save_figure(args, env, results, empty: float, hull_loss: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pictures = [picture(env, r["final"]) for r in results]
    fig = plt.figure(figsize=(13, 4.2 + 3.2 * len(pictures)), dpi=100)
    grid = fig.add_gridspec(1 + len(pictures), 1, height_ratios=[1.3] + [1.0] * len(pictures))
    ax = fig.add_subplot(grid[0])
    for r, colour in zip(results, ("tab:blue", "tab:orange")):
        xs, ys = zip(*r["curve"]) if r["curve"] else ((), ())
        ax.plot(xs, ys, color=colour, label=f"{r['kind']} ({r['num_params']:,} parameters): {r['loss']:.3f}")
    ax.axhline(empty, color="grey", ls=":", label=f"empty start: {empty:.3f}")
    ax.axhline(hull_loss, color="black", ls="--", label=f"visual hull: {hull_loss:.3f}")
    ax.set_xlabel("black-box evaluations")
    ax.set_ylabel("shadow loss (mean l1 over screens)")
    ax.set_title(f"ShadowArt-v0 K={args.grid}: ZeroGradsFunction + torch Adam, voxels vs. a coordinate decoder "
                 f"(seed {args.seed})")
    ax.legend(loc="upper right", fontsize=9)
    for i, (r, img) in enumerate(zip(results, pictures)):
        a = fig.add_subplot(grid[1 + i])
        a.imshow(img)
        a.set_axis_off()
        a.set_title(f"final design, {r['kind']}", fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
