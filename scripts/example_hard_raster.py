"""A torch model with a hard rasteriser in the middle, trained end to end through ZeroGradsFunction.

What a user's code looks like: a small network turns a learned code into the centres and radii of a few
discs (differentiable), a hard rasteriser turns the discs into a binary image (a pixel is inside a disc or
not: autograd gives a zero gradient), and the image is compared with a target glyph by 1 - IoU. Wrapping
the rasteriser and its loss in :class:`zg_agent.torch.ZeroGradsFunction` makes the whole chain trainable
with torch Adam and a learning-rate schedule; a differentiable regulariser is added on the network's side.

The reference is the usual work-around: replace the hard rasteriser by a hand-made soft one (sigmoid edges,
as in soft rasterisers) and backpropagate through that. Both runs take the same number of Adam steps from
the same initial network; each is scored by the hard loss.

    python scripts/example_hard_raster.py            # about 20 s
    python scripts/example_hard_raster.py --glyph A --discs 24 --steps 1500

Writes docs/torch_hard_raster.png and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from zg_agent.torch import ZeroGradsFunction  # noqa: E402
from zg_envs.targets import glyph_mask  # noqa: E402


class DiscNet(torch.nn.Module):
    """A learned code -> MLP -> ``discs`` rows of (centre x, centre y, radius), flattened."""

    def __init__(self, discs: int, code: int = 8, width: int = 64):
        super().__init__()
        self.discs = discs
        self.code = torch.nn.Parameter(0.5 * torch.randn(code))
        self.net = torch.nn.Sequential(torch.nn.Linear(code, width), torch.nn.Tanh(),
                                       torch.nn.Linear(width, width), torch.nn.Tanh(),
                                       torch.nn.Linear(width, 3 * discs))

    def forward(self) -> torch.Tensor:
        raw = self.net(self.code).view(self.discs, 3)
        centres = 0.9 * torch.tanh(raw[:, :2])
        radii = 0.05 + 0.25 * torch.sigmoid(raw[:, 2:])
        return torch.cat([centres, radii], dim=1).flatten()


class HardDiscLoss:
    """The non-differentiable stage: discs ``(n, 3 N)`` -> binary images -> ``1 - IoU`` with the target."""

    def __init__(self, target: np.ndarray):
        self.target = target
        c = (np.arange(target.shape[0]) + 0.5) / target.shape[0] * 2 - 1
        self.xs, self.ys = np.meshgrid(c, -c)  # image row 0 at the top (y = +1)

    def images(self, discs: np.ndarray) -> np.ndarray:
        d = np.asarray(discs, dtype=np.float64).reshape(len(discs), -1, 3)
        cx, cy, r = (d[:, :, i, None, None] for i in range(3))
        return ((self.xs - cx) ** 2 + (self.ys - cy) ** 2 <= r**2).any(axis=1)

    def __call__(self, discs: np.ndarray) -> np.ndarray:
        img = self.images(discs)
        inter = np.count_nonzero(img & self.target, axis=(1, 2))
        union = np.count_nonzero(img | self.target, axis=(1, 2))
        return 1.0 - inter / np.maximum(union, 1)


def soft_disc_loss(discs: torch.Tensor, hard: HardDiscLoss, edge: float) -> torch.Tensor:
    """The hand-made relaxation: sigmoid disc edges ``edge`` wide, soft union, soft IoU (differentiable)."""
    d = discs.view(-1, 3)
    xs, ys = (torch.as_tensor(a, dtype=discs.dtype) for a in (hard.xs, hard.ys))
    dist = torch.sqrt((xs - d[:, 0, None, None]) ** 2 + (ys - d[:, 1, None, None]) ** 2 + 1e-12)
    cover = torch.sigmoid((d[:, 2, None, None] - dist) / edge)
    image = 1 - torch.prod(1 - cover, dim=0)
    target = torch.as_tensor(hard.target, dtype=discs.dtype)
    inter = (image * target).sum()
    return 1 - inter / (image.sum() + target.sum() - inter)


def train(mode: str, hard: HardDiscLoss, args) -> dict:
    torch.manual_seed(args.seed)  # the same initial network for both modes
    net = DiscNet(args.discs)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    black_box = ZeroGradsFunction(hard, dim=3 * args.discs, sigma=args.sigma, popsize=args.popsize, seed=args.seed)
    curve, started = [], time.perf_counter()
    for step in range(args.steps):
        opt.zero_grad()
        discs = net()
        stage = black_box(discs) if mode == "zerograds" else soft_disc_loss(discs, hard, args.edge)
        # A differentiable term on the network's side goes through plain autograd, beside the surrogate's.
        loss = stage + args.radius_penalty * (discs.view(-1, 3)[:, 2] ** 2).mean()
        loss.backward()
        opt.step()
        schedule.step()
        with torch.no_grad():
            curve.append(float(hard(net()[None].numpy())[0]))
    with torch.no_grad():
        final = net().numpy().copy()
    evaluations = black_box.num_evaluations if mode == "zerograds" else 0
    return {"mode": mode, "final": final, "loss": float(hard(final[None])[0]), "curve": curve,
            "evaluations": evaluations, "seconds": time.perf_counter() - started}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--glyph", default="Z", help="target glyph (default Z)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--discs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=600, help="Adam steps of each run")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--sigma", type=float, default=0.02, help="ZeroGrads' sampling std (image half-width = 1)")
    parser.add_argument("--popsize", type=int, default=16, help="black-box evaluations per step")
    parser.add_argument("--edge", type=float, default=0.03, help="edge width of the soft rasteriser")
    parser.add_argument("--radius-penalty", type=float, default=0.01, help="weight of the differentiable term")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "torch_hard_raster.png")
    args = parser.parse_args(argv)
    for name in ("resolution", "discs", "steps", "popsize"):
        if getattr(args, name) < (2 if name == "popsize" else 1):
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.popsize % 2:
        parser.error(f"--popsize must be even (antithetic pairs), got {args.popsize}")

    hard = HardDiscLoss(glyph_mask(args.glyph, args.resolution))
    torch.manual_seed(args.seed)
    discs = DiscNet(args.discs)()
    start = float(hard(discs.detach()[None].numpy())[0])
    # The same hard rasteriser written in torch: a comparison, so autograd has nothing to differentiate.
    d = discs.view(-1, 3)
    xs, ys = (torch.as_tensor(a, dtype=discs.dtype) for a in (hard.xs, hard.ys))
    image = ((xs - d[:, 0, None, None]) ** 2 + (ys - d[:, 1, None, None]) ** 2 <= d[:, 2, None, None] ** 2).any(0)
    print(f"plain autograd through the hard rasteriser: discs.requires_grad={discs.requires_grad}, "
          f"image.requires_grad={image.float().requires_grad}: no gradient reaches the network")
    runs = [train("zerograds", hard, args), train("soft", hard, args)]

    print(f"\nglyph {args.glyph!r} at {args.resolution}x{args.resolution}, {args.discs} discs, "
          f"{args.steps} Adam steps, seed {args.seed}; hard loss = 1 - IoU (0 = perfect)")
    print("| run | hard loss | black-box evaluations | seconds |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| initial network | {start:.4f} | - | - |")
    print(f"| ZeroGradsFunction through the hard rasteriser | {runs[0]['loss']:.4f} | {runs[0]['evaluations']:,} | "
          f"{runs[0]['seconds']:.1f} |")
    print(f"| soft rasteriser (edge {args.edge}), autograd | {runs[1]['loss']:.4f} | - | {runs[1]['seconds']:.1f} |")
    save_figure(args, hard, start, discs.detach().numpy(), runs)
    print(f"wrote {args.out}")
    return 0


def save_figure(args, hard: HardDiscLoss, start: float, initial: np.ndarray, runs: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(17, 3.6), dpi=100, gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.6]})
    panels = [("target", hard.target), (f"initial network: {start:.3f}", hard.images(initial[None])[0])]
    panels += [(f"{'ZeroGrads' if r['mode'] == 'zerograds' else 'soft rasteriser'}: {r['loss']:.3f}",
                hard.images(r["final"][None])[0]) for r in runs]
    for ax, (title, img) in zip(axes, panels):
        overlay = np.zeros((*img.shape, 3))
        overlay[..., 0] = img  # red: the design; green: the target; yellow where both
        overlay[..., 1] = hard.target * (0.8 if title != "target" else 1.0)
        ax.imshow(img if title == "target" else overlay, cmap="gray", interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    ax = axes[-1]
    for r, colour in zip(runs, ("tab:blue", "tab:orange")):
        ax.plot(r["curve"], color=colour, label="ZeroGrads (hard)" if r["mode"] == "zerograds" else "soft rasteriser")
    ax.axhline(start, color="grey", ls=":", label="initial")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("hard loss, 1 - IoU")
    ax.legend(fontsize=9)
    fig.suptitle(f"A disc network trained through a hard rasteriser (glyph {args.glyph!r}; red = design, "
                 f"green = target, yellow = both)", fontsize=11)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
