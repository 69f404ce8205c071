"""The metrics against scikit-image (SSIM with Gaussian weights, PSNR), masked as the project
scores: over valid pixels, SSIM over windows whose pixels are all valid; reduced over two real
ranks to the one-process result; and LPIPS against the ``lpips`` package's own network."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from hpc_vqvae.metrics import WINDOW, Scores
from hpc_vqvae.model.config import LossConfig
from hpc_vqvae.model.losses import VQGANLoss
from hpc_vqvae.model.lpips import _VGG16, LPIPS, _features, convert
from hpc_vqvae.world import free_port
from tests.helpers.real import require_real


def _images(seed: int, n: int = 3, size: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth 'true' fields in [0, 1] and noisy predictions of them, (n, 3, size, size)."""
    rng = np.random.default_rng(seed)
    true = np.stack([gaussian_filter(rng.random((3, size, size)), (0, 3, 3)) for _ in range(n)])
    true = (true - true.min()) / (true.max() - true.min())
    noise = 0.03 * (1 + 2 * np.arange(n))[:, None, None, None]  # image quality differs
    pred = np.clip(true + noise * rng.standard_normal(true.shape), 0, 1)
    return torch.from_numpy(pred).float(), torch.from_numpy(true).float()


def _skimage(pred, true, image: int, channel: int):
    a, b = true[image, channel].double().numpy(), pred[image, channel].double().numpy()
    s, full = structural_similarity(
        a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        full=True,
    )  # fmt: skip
    return s, full, peak_signal_noise_ratio(a, b, data_range=1.0)


def test_unmasked_equals_scikit_image():
    pred, true = _images(0)
    scores = Scores()
    scores.update(pred, true, torch.ones(3, 1, 40, 40, dtype=torch.bool))
    got = scores.result()
    for c, name in enumerate("RGB"):
        ref = [_skimage(pred, true, i, c) for i in range(3)]
        assert got[f"ssim_{name}"] == pytest.approx(np.mean([r[0] for r in ref]), abs=1e-5)
        assert got[f"psnr_{name}"] == pytest.approx(np.mean([r[2] for r in ref]), abs=1e-4)
        mse = ((pred[:, c] - true[:, c]) ** 2).mean().item()
        assert got[f"psnr_pooled_{name}"] == pytest.approx(-10 * np.log10(mse), abs=1e-4)
        assert got[f"rmse_{name}"] == pytest.approx(np.sqrt(mse), rel=1e-5)
    assert got["psnr"] > got["psnr_pooled"] + 1  # the mean of images' PSNR is not the pooled one


def test_masked_scores_only_valid_pixels_and_windows():
    """Night and NaN fill (the truth outside the mask) never enter a score: SSIM over the
    windows whose pixels are all valid, the others over the valid pixels."""
    pred, true = _images(1)
    mask = torch.ones(3, 1, 40, 40, dtype=torch.bool)
    mask[0, :, :, 25:] = False  # a terminator
    mask[1, :, 10:14, 10:14] = False  # a few missing pixels
    mask[2] = False  # all night: no image to score
    true = true.masked_fill(~mask.expand_as(true), float("nan"))
    scores = Scores()
    scores.update(pred, true, mask)
    got = scores.result()
    half = (WINDOW - 1) // 2
    for c, name in enumerate("RGB"):
        per_image, sq, n = [], 0.0, 0
        for i in (0, 1):
            valid = mask[i, 0].numpy()
            t = np.where(valid, true[i, c].numpy(), 0.0)
            # skimage's SSIM map of this image and channel, over its fully valid windows only
            _, full, _ = _skimage(pred[i : i + 1, c : c + 1], torch.from_numpy(t)[None, None], 0, 0)
            windows = np.lib.stride_tricks.sliding_window_view(valid, (WINDOW, WINDOW)).all((2, 3))
            per_image.append(full[half:-half, half:-half][windows].mean())
            err = (pred[i, c].numpy() - t)[valid]
            sq, n = sq + (err**2).sum(), n + err.size
        assert got[f"ssim_{name}"] == pytest.approx(np.mean(per_image), abs=1e-5)
        assert got[f"rmse_{name}"] == pytest.approx(np.sqrt(sq / n), rel=1e-5)
    assert got["images"] == 2 and got["pixels"] == 40 * 40 * 2 - 40 * 15 - 16
    assert all(np.isfinite(v) for v in got.values())


def _ranks(rank: int, port: int, out: dict):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    pred, true = _images(2, n=4)
    scores = Scores()
    scores.update(pred[rank::2], true[rank::2], torch.ones(2, 1, 40, 40, dtype=torch.bool))
    out[rank] = scores.reduce().result()
    dist.destroy_process_group()


def test_two_ranks_reduce_to_the_one_process_scores():
    pred, true = _images(2, n=4)
    one = Scores()
    one.update(pred, true, torch.ones(4, 1, 40, 40, dtype=torch.bool))
    out = mp.Manager().dict()
    mp.spawn(_ranks, args=(free_port(), out), nprocs=2, join=True)
    for key, value in one.result().items():
        assert out[0][key] == pytest.approx(value, rel=1e-6) and out[0] == out[1], key


def _reference_lpips(trunk: torch.nn.Sequential):
    """The ``lpips`` package's own LPIPS (VGG, its official linear layers), its trunk given
    through a stand-in ``torchvision.models.vgg16``: torchvision cannot be imported beside this
    CPU build of torch, and lpips reads nothing of it but ``vgg16(...).features``."""
    require_real("lpips", _importable("lpips"), "pip install --no-deps lpips (make venv does)")
    models = types.ModuleType("torchvision.models")
    models.vgg16 = lambda pretrained=False, **_: types.SimpleNamespace(features=trunk)
    models.alexnet = models.squeezenet1_1 = models.vgg16
    vision = types.ModuleType("torchvision")
    vision.models = models
    saved = {k: sys.modules.get(k) for k in ("torchvision", "torchvision.models")}
    sys.modules.update({"torchvision": vision, "torchvision.models": models})
    try:
        import lpips

        return lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False).eval()
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_lpips_equals_the_reference_implementation():
    """Same (random) VGG16 trunk, LPIPS v0.1's own linear layers: the same distances."""
    torch.manual_seed(0)
    trunk = _features()
    for m in trunk:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.05)
    ref = _reference_lpips(trunk)
    lins = {k: v for k, v in ref.state_dict().items() if k.startswith("lin")}
    vgg = {f"features.{k}": v for k, v in trunk.state_dict().items()}
    ours = LPIPS()
    ours.load_state_dict(convert(vgg, lins))
    x, y = torch.rand(4, 3, 64, 64) * 2 - 1, torch.rand(4, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        want, got = ref(x, y).flatten(), ours(x, y)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-7), (got, want)
    assert float(want.min()) > 0


def test_lpips_from_converted_official_layout(tmp_path):
    """The converter maps torchvision's vgg16 and LPIPS' linear-layer keys to ours."""
    torch.manual_seed(0)
    vgg, idx, ch = {}, 0, 3
    for v in _VGG16:
        if v == "M":
            idx += 1
            continue
        vgg[f"features.{idx}.weight"] = torch.randn(v, ch, 3, 3) * 0.05
        vgg[f"features.{idx}.bias"] = torch.zeros(v)
        idx, ch = idx + 2, v
    vgg["classifier.0.weight"] = torch.randn(4, 4)  # dropped
    lins = {
        f"lin{k}.model.1.weight": torch.rand(1, w, 1, 1)
        for k, w in enumerate((64, 128, 256, 512, 512))
    }
    path = tmp_path / "lpips.pt"
    torch.save(convert(vgg, lins), path)
    model = LPIPS.from_file(path)
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(model(x, x), torch.zeros(2)) and bool((model(x, y) > 0).all())
    loss_fn = VQGANLoss(LossConfig(lpips_weight=1.0, lpips_weights=path))
    rec = y.clone().requires_grad_(True)
    loss, log = loss_fn.generator(
        target=x, rec=rec, qloss=torch.tensor(0.0), logits_fake=None, probe=None, step=0
    )
    loss.backward()
    assert float(log["train/p_loss"]) > 0 and rec.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in loss_fn.lpips.parameters())  # frozen


def test_lpips_scores_only_images_valid_throughout():
    torch.manual_seed(0)
    lpips = LPIPS().eval()
    pred, true = _images(3, n=3, size=32)
    mask = torch.ones(3, 1, 32, 32, dtype=torch.bool)
    mask[1, :, :4, :4] = False  # one partly night image: left out of LPIPS
    scores = Scores()
    scores.update(pred, true, mask, lpips)
    whole = torch.tensor([0, 2])
    with torch.no_grad():
        want = lpips(2 * pred[whole] - 1, 2 * true[whole] - 1).mean()
    assert scores.result()["lpips"] == pytest.approx(float(want), rel=1e-6)
