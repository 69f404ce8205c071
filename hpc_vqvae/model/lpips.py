"""LPIPS perceptual distance (Zhang et al. 2018, VGG16 variant), loaded only from a local file:
compute nodes are offline, so nothing is ever downloaded.

The weight file is this module's own state dict. Build it once, where the two official files
can be had, with ``python -m hpc_vqvae.model.lpips VGG16.pth LPIPS_VGG.pth OUT.pt``, from
torchvision's ``vgg16`` ImageNet weights and the LPIPS v0.1 ``vgg.pth`` linear layers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

# torchvision's vgg16 ``features`` (conv channels, 'M' = max-pool); LPIPS taps relu1_2,
# relu2_2, relu3_3, relu4_3 and relu5_3, i.e. the outputs after features[3, 8, 15, 22, 29].
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_TAPS = (3, 8, 15, 22, 29)
_WIDTHS = (64, 128, 256, 512, 512)


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    ch = 3
    for v in _VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(ch, v, 3, padding=1), nn.ReLU(inplace=False)]
            ch = v
    return nn.Sequential(*layers)


class LPIPS(nn.Module):
    """Distance between images in [-1, 1]; returns one value per sample, (B,)."""

    def __init__(self):
        super().__init__()
        self.features = _features()
        self.lins = nn.ModuleList(nn.Conv2d(w, 1, 1, bias=False) for w in _WIDTHS)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188])[None, :, None, None])
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450])[None, :, None, None])

    @classmethod
    def from_file(cls, path: str | Path) -> LPIPS:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(missing_weights(path))
        model = cls()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval().requires_grad_(False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], (x - self.shift) / self.scale
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in _TAPS:
                out.append(h / (h.norm(dim=1, keepdim=True) + 1e-10))
            if i == _TAPS[-1]:
                break
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dist = 0.0
        for lin, fx, fy in zip(self.lins, self._taps(x), self._taps(y), strict=True):
            dist = dist + lin((fx - fy) ** 2).mean(dim=(1, 2, 3))
        return dist


def missing_weights(path: Path) -> str:
    """How to make the weight file a config names but this machine lacks."""
    return (
        f"loss.lpips_weights {path}: no such file; build it where the two official files can "
        "be had: python -m hpc_vqvae.model.lpips VGG16.pth LPIPS_VGG.pth "
        f"{path} (torchvision's vgg16 ImageNet weights and LPIPS v0.1's vgg.pth; see docs/model.md)"
    )


def convert(vgg16: dict, lpips_lin: dict) -> dict:
    """Official state dicts -> this module's: torchvision ``features.N.*`` keys keep their
    names; LPIPS ``linK.model.1.weight`` become ``lins.K.weight``."""
    out = {
        k: v for k, v in vgg16.items() if k.startswith("features.") and int(k.split(".")[1]) <= 29
    }
    for k in range(len(_WIDTHS)):
        out[f"lins.{k}.weight"] = lpips_lin[f"lin{k}.model.1.weight"]
    reference = LPIPS().state_dict()
    out["shift"], out["scale"] = reference["shift"], reference["scale"]
    return out


def main(argv: list[str] | None = None) -> None:
    vgg_path, lin_path, out_path = argv or sys.argv[1:]
    state = convert(
        torch.load(vgg_path, map_location="cpu"), torch.load(lin_path, map_location="cpu")
    )
    LPIPS().load_state_dict(state)  # fails loudly on any mismatch
    torch.save(state, out_path)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
