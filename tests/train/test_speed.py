"""The speed levers compute what eager NCHW computes: a few GAN steps (generator, adaptive
weight, discriminator) give the same losses with channels_last activations and with regional
torch.compile, on CPU in fp32; and each lever is really in effect."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hpc_vqvae.model import VQGANLoss, VQModel, build_discriminator, build_generator
from hpc_vqvae.train import speed
from hpc_vqvae.train.config import load_config
from hpc_vqvae.train.steps import train_step
from tests.helpers.real import TINY
from tests.helpers.training import read_metrics, run_trainer, small_run

# the GAN from the first step, with attention blocks (tiny has none) so both regions are used
OVERRIDES = ["loss.disc_start=0", "model.attention=true", "data.store=unused.zarr"]


class Plain:
    """The engine interface ``train_step`` uses (call, backward, step, ``module``), in plain
    PyTorch: the levers are DeepSpeed's business only through the module they change."""

    def __init__(self, module: nn.Module, lr: float = 1e-2):
        self.module = module
        # SGD: Adam divides by the gradient's own scale, so it would blow a rounding difference
        # in a near-zero gradient up to a full step, and the runs would part for that reason alone
        self.opt = torch.optim.SGD(module.parameters(), lr=lr)

    def __call__(self, *args):
        return self.module(*args)

    def train(self):
        self.module.train()

    def requires_grad_(self, flag: bool):
        self.module.requires_grad_(flag)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self) -> None:
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)


def _batches(n: int, size: int = 4, px: int = 32) -> list[dict]:
    g = torch.Generator().manual_seed(7)
    return [
        {
            "ir": torch.rand(size, 3, px, px, generator=g) * 2 - 1,
            "vis": torch.rand(size, 3, px, px, generator=g) * 2 - 1,
            "mask": (torch.rand(size, 1, px, px, generator=g) > 0.1).float(),
        }
        for _ in range(n)
    ]


def _losses(channels_last: bool, compile_mode: str, steps: int, *extra: str) -> list[dict]:
    cfg = load_config(TINY, [*OVERRIDES, *extra])
    torch.manual_seed(0)
    model, disc = build_generator(cfg.model), build_discriminator(cfg.model)
    speed.apply(model, disc, compile_mode)
    g, d, loss_fn = Plain(model), Plain(disc), VQGANLoss(cfg.loss)
    out = []
    for step, batch in enumerate(_batches(steps)):
        log = train_step(g, d, loss_fn, speed.to_device(batch, "cpu", channels_last), step)
        out.append({k: float(v) for k, v in log.items()})
    return out


def _assert_close(got: list[dict], want: list[dict], rtol: float) -> None:
    assert len(got) == len(want) and set(got[0]) == set(want[0])
    for step, (a, b) in enumerate(zip(got, want, strict=True)):
        for key in b:
            assert a[key] == pytest.approx(b[key], rel=rtol, abs=1e-5), (step, key)


@pytest.mark.parametrize("generator", ["vqgan", "unet"])
def test_channels_last_activations_give_the_eager_losses(generator):
    """Both generators: the U-Net's concatenated skips keep NHWC as the VQGAN's blocks do."""
    extra = f"model.generator={generator}"
    eager = _losses(False, "none", 3, extra)
    _assert_close(_losses(True, "none", 3, extra), eager, rtol=1e-4)
    assert {"train/g_loss", "train/disc_loss", "train/d_weight"} <= set(eager[0])


def test_channels_last_is_in_effect_with_contiguous_weights():
    """NHWC flows from the batch through the network, while the weights stay contiguous (what
    ZeRO's flat buffers need)."""
    cfg = load_config(TINY, OVERRIDES)
    model = VQModel(cfg.model)
    batch = speed.to_device(_batches(1)[0], "cpu", True)
    assert batch["ir"].is_contiguous(memory_format=torch.channels_last)
    assert batch["mask"].is_contiguous(memory_format=torch.channels_last)
    seen = []
    hook = model.encoder.down[0].register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        rec, _, _ = model(batch["ir"])
    hook.remove()
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert not seen[0].is_contiguous()
    assert rec.is_contiguous(memory_format=torch.channels_last)
    assert all(p.is_contiguous() for p in model.parameters())


@pytest.mark.slow
def test_regional_compile_gives_the_eager_losses():
    """In NCHW: channels_last is checked against eager above, and both levers together run
    through DeepSpeed below (a second inductor compile here, for NHWC strides, would double
    this test's minute and a half)."""
    from torch._dynamo.utils import counters

    eager = _losses(False, "none", 2)
    counters.clear()
    _assert_close(_losses(False, "blocks", 2), eager, rtol=1e-4)
    assert counters["stats"]["unique_graphs"] >= 3, "compiled graphs ran, not eager"


@pytest.mark.slow
@pytest.mark.deepspeed
def test_the_trainer_runs_with_both_levers(train_store, tmp_path):
    """Through DeepSpeed's engines (ZeRO-2), checkpoint and export included."""
    levers = ["train.compile=blocks", "train.channels_last=true", "train.zero_stage=2"]
    run_trainer(1, "none", small_run(train_store, 2, *levers), tmp_path / "run")
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1, 2]
    assert (tmp_path / "run" / "generator" / "model.safetensors").is_file()


def test_regional_compile_compiles_the_blocks_in_place():
    cfg = load_config(TINY, OVERRIDES)
    model, disc = VQModel(cfg.model), build_discriminator(cfg.model)
    names = list(model.state_dict())
    n = speed.compile_blocks(model, disc)
    blocks = [m for m in model.modules() if isinstance(m, speed.REGIONS)]
    assert n == len(blocks) + 1 and any(isinstance(b, speed.REGIONS[1]) for b in blocks)
    assert all(b._compiled_call_impl is not None for b in [*blocks, disc])
    assert list(model.state_dict()) == names, "checkpoints keep their parameter names"
