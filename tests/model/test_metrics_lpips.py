import math

import torch

from hpc_vqvae.metrics import image_metrics, mae, psnr, rmse, ssim
from hpc_vqvae.model.config import LossConfig
from hpc_vqvae.model.losses import VQGANLoss
from hpc_vqvae.model.lpips import _VGG16, LPIPS, convert


def test_metric_values():
    x = torch.zeros(1, 3, 16, 16)
    y = torch.full((1, 3, 16, 16), 0.1)
    assert torch.allclose(rmse(x, y), torch.full((3,), 0.1))
    assert torch.allclose(mae(x, y), torch.full((3,), 0.1))
    assert torch.allclose(psnr(x, y), torch.full((3,), 20.0))
    img = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(img, img), torch.ones(3), atol=1e-6)
    assert float(ssim(img, torch.rand(2, 3, 32, 32)).mean()) < 0.2
    m = image_metrics(x, y)
    assert math.isclose(m["val/rmse"], 0.1, rel_tol=1e-6) and "val/ssim_G" in m


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
