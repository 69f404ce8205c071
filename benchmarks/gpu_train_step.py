"""Training steps of the paper config on one GPU: samples/s, ms/step, peak GPU memory and model
FLOPs utilisation (MFU), bf16 DeepSpeed engines (ZeRO-2), eager, channels_last,
torch.compile of encoder and decoder whole, and the trainer's regional compilation
(``train.compile=blocks``, alone and with channels_last), before the GAN starts (generator
only) and after (G + D + adaptive weight).
channels_last is given to the inputs only (cuDNN then runs the convolutions in NHWC): ZeRO
flattens parameters and refuses channels_last weights ("self.stride(-1) must be 1").

    python benchmarks/gpu_train_step.py [--config configs/paper.yaml] [--batch 4 16]
        [--variants eager,channels_last,compile,blocks,blocks+channels_last] [--steps 10]
        [--peak-tflops 989]

The batches are random tensors on the GPU: this measures the model and the optimizer, not the
loader (``loader_throughput.py`` does that). FLOPs are those of one step counted by
``torch.utils.flop_counter`` on the eager model (matmuls and convolutions, forward and
backward, G and D); MFU = FLOPs per step / time per step / the GPU's dense bf16 peak
(989 TFLOP/s for an H100/H200 SXM; ``--peak-tflops`` for another). The bf16 matmul line shows
what this GPU reaches on a large plain matrix product, for scale. On a CPU
(``--device cpu``, fp32) it runs too, for a smoke test of the script itself.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from hpc_vqvae.model import VQGANLoss, VQModel, build_discriminator, build_generator
from hpc_vqvae.train import speed
from hpc_vqvae.train.config import Config, load_config
from hpc_vqvae.train.engines import build_engines, precision
from hpc_vqvae.train.steps import train_step
from hpc_vqvae.world import World, setup

REPO = Path(__file__).resolve().parents[1]

PHASES = {"rec": 10**9, "gan": 0}  # disc_start: the GAN never starts / starts at once


def matmul_tflops(device: str, n: int = 8192, reps: int = 10) -> float:
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def batch_of(cfg: Config, size: int, device: str, channels_last: bool) -> dict:
    shape = (size, cfg.model.in_channels, cfg.data.patch_size, cfg.data.patch_size)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    ir = torch.rand(shape, device=device).mul(2).sub(1).contiguous(memory_format=fmt)
    vis = torch.rand(shape[:1] + (cfg.model.out_channels,) + shape[2:], device=device)
    return {"ir": ir, "vis": vis.mul(2).sub(1).contiguous(memory_format=fmt)}


# variant -> (channels_last activations, how it compiles): "blocks" is the trainer's own
# train.compile=blocks (hpc_vqvae.train.speed); "compile" compiles encoder and decoder whole
VARIANTS = {
    "eager": (False, "none"),
    "channels_last": (True, "none"),
    "compile": (True, "whole"),
    "blocks": (False, "blocks"),
    "blocks+channels_last": (True, "blocks"),
}


def engines(cfg: Config, device: str, variant: str):
    torch.manual_seed(0)
    model, disc = build_generator(cfg.model), build_discriminator(cfg.model)
    compiled = VARIANTS[variant][1]
    if compiled == "whole":  # in place: module structure and parameter names stay
        if isinstance(model, VQModel):  # the quantizer stays eager
            model.encoder.compile()
            model.decoder.compile()
        else:  # the U-Net baseline (model.generator=unet)
            model.compile()
        disc.compile()
    else:
        speed.apply(model, disc, compiled)
    g, d = build_engines(cfg, model, disc, 1, device)
    return g, d, VQGANLoss(cfg.loss).to(device).train()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(
    cfg: Config, device: str, variant: str, phase: str, size: int, steps: int, profile: bool
) -> dict:
    cfg = cfg.model_copy(deep=True)
    cfg.train.batch_size, cfg.loss.disc_start = size, PHASES[phase]
    g, d, loss_fn = engines(cfg, device, variant)
    batch = batch_of(cfg, size, device, VARIANTS[variant][0])
    t0 = time.perf_counter()
    for step in range(3):  # k-means init of the codebook, cudnn autotuning, compilation
        train_step(g, d, loss_fn, batch, step)
    sync(device)
    warmup = time.perf_counter() - t0
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(3, 3 + steps):
        t0 = time.perf_counter()
        train_step(g, d, loss_fn, batch, step)
        sync(device)
        times.append(time.perf_counter() - t0)
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as profiler

        with profiler(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            train_step(g, d, loss_fn, batch, 3 + steps)
            sync(device)
        print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=25))
    flops = None
    if VARIANTS[variant][1] == "none":  # compiled kernels bypass the counter; same math
        with FlopCounterMode(display=False) as counter:
            train_step(g, d, loss_fn, batch, 3 + steps)
        flops = counter.get_total_flops()
    peak_mb = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else 0.0
    del g, d, loss_fn, batch
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"s": statistics.median(times), "flops": flops, "mb": peak_mb, "warmup": warmup}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=REPO / "configs" / "paper.yaml")
    p.add_argument("--batch", type=int, nargs="+", default=[4, 16])
    p.add_argument("--phases", default="gan,rec")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--zero", type=int, default=2, choices=(0, 1, 2))
    p.add_argument("--patch", type=int, help="override data.patch_size")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--peak-tflops", type=float, default=989.0)
    p.add_argument("--profile", action="store_true", help="kernel table of one step per row")
    args = p.parse_args()

    overrides = [f"train.zero_stage={args.zero}"]
    overrides += [f"data.patch_size={args.patch}"] if args.patch else []
    cfg = load_config(args.config, overrides)
    lpips = cfg.loss.lpips_weights
    if cfg.loss.lpips_weight > 0 and lpips is not None and not lpips.is_file():
        # The speed of LPIPS does not depend on its weights: random ones where the file is absent
        from hpc_vqvae.model.lpips import LPIPS

        lpips = Path(tempfile.mkdtemp()) / "lpips_random.pt"
        torch.save(LPIPS().state_dict(), lpips)
        cfg = load_config(args.config, [*overrides, f"loss.lpips_weights={lpips}"])
    os.environ.setdefault("MASTER_PORT", "29533")
    if args.device == "cpu":
        os.environ["DS_ACCELERATOR"] = "cpu"
    device = setup(World(0, 1, 0, "none"))
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "CPU"
    m = cfg.model
    codebook = f"codebook {m.codebook_size} x {m.embed_dim}, " if m.generator == "vqgan" else ""
    print(
        f"{args.config.name}: {m.generator}, {cfg.data.patch_size} px, ch {m.ch} x {m.ch_mult}, "
        f"{codebook}{precision(cfg, device)}, ZeRO-{args.zero}, 1 rank on {name}, "
        f"torch {torch.__version__}"
    )
    if device.startswith("cuda"):
        print(f"bf16 matmul 8192^3: {matmul_tflops(device):.0f} TFLOP/s")
    head = ("variant", "phase", "batch", "samples/s", "ms/step", "TFLOP/step", "MFU %",
            "peak GB", "warm-up s")  # fmt: skip
    print("  ".join(head), flush=True)
    flops: dict[tuple[str, int], float] = {}
    for variant in args.variants.split(","):
        for phase in args.phases.split(","):
            for size in args.batch:
                try:
                    r = measure(cfg, device, variant, phase, size, args.steps, args.profile)
                except Exception as err:  # a variant that fails (OOM, compile) is a table row
                    print(f"{variant}  {phase}  {size}  failed: {type(err).__name__}: "
                          f"{str(err).splitlines()[0][:160]}", flush=True)  # fmt: skip
                    gc.collect()
                    continue
                f = flops.setdefault((phase, size), r["flops"] or 0.0)
                mfu = f / r["s"] / (args.peak_tflops * 1e12) * 100 if f else float("nan")
                cells = (variant, phase, size, f"{size / r['s']:.1f}", f"{1000 * r['s']:.0f}",
                         f"{f / 1e12:.2f}", f"{mfu:.1f}", f"{r['mb'] / 1024:.1f}",
                         f"{r['warmup']:.0f}")  # fmt: skip
                print("  ".join(str(c).rjust(len(h)) for c, h in zip(cells, head, strict=True)),
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
