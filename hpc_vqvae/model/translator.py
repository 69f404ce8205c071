"""The trained generator as a translator: brightness temperatures in, reflectance out, with
the data settings, statistics and grid settings it was trained with, run on tiles of its
training crop size. What prediction, evaluation and the logged MLflow model all call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..abi.grid import GridSettings
from ..data.config import DataConfig
from ..data.transform import Transform
from ..errors import UsageError
from ..store import Store
from .exported import export_path, is_export, load_generator
from .generator import Generator

TILES_PER_PASS = 64  # tiles through the network at once


def tile_origins(size: int, tile: int, stride: int) -> list[int]:
    """Tile starts covering [0, size): every ``stride``, the last flush with the end."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile + 1, stride))
    return starts if starts[-1] == size - tile else [*starts, size - tile]


def tile_overlap(tile: int) -> int:
    """Pixels by which neighbouring tiles overlap: a quarter of a tile."""
    return tile // 4


def tile_corners(size: int, tile: int) -> list[int]:
    """Where ``translate_batch``'s tiles start along an axis of ``size`` pixels, in the scan's
    own pixels: the scan is padded by the overlap on both sides, so the first tile starts at
    ``-overlap`` and the scan's edge pixels lie as deep inside a tile as any interior pixel."""
    overlap = tile_overlap(tile)
    padded = max(size + 2 * overlap, tile)
    return [o - overlap for o in tile_origins(padded, tile, tile - overlap)]


def blend_window(tile: int, overlap: int) -> np.ndarray:
    """(tile, tile) weights: zero over the outer quarter of the overlap at each edge (where a
    tile's convolutions read its zero padding, not the scene), then a ramp to one across the
    rest of it, so that overlapping tiles fade into each other from their clean pixels."""
    margin = overlap // 4
    ramp = np.clip((np.arange(tile) - margin + 0.5) / max(overlap - margin, 1), 0.0, 1.0)
    edge = np.minimum(ramp, ramp[::-1]).astype(np.float32)
    return edge[:, None] * edge[None, :]


def _pad(x: torch.Tensor, before: int, after_h: int, after_w: int) -> torch.Tensor:
    """The scan mirrored outwards (what is beyond an edge is most like what is inside it);
    replicated instead where it is too small to mirror that far."""
    pads = (before, after_w, before, after_h)
    mode = "reflect" if max(pads) < min(x.shape[-2:]) else "replicate"
    return F.pad(x, pads, mode=mode)


@torch.no_grad()
def translate_batch(model: Generator, ir: np.ndarray, tile: int, device: str = "cpu") -> np.ndarray:
    """(N, C, H, W) network input (``Transform.input``: scaled, NaN filled) -> (N, 3, H, W)
    network output in [-1, 1], run on tiles of the training crop size that overlap by a
    quarter and blend: GroupNorm's statistics are those of a crop, as in training, not of a
    whole 500 x 500 scene (on which a model trained on small crops comes out with its
    intensities shifted). The scan is mirrored outwards by the overlap first, so that the
    tiles at its edges are blended like interior ones: without it the edge pixels came from
    the edge tiles' borders alone, where the network sees its zero padding. Where a model's
    answer for a pixel depends on which crop it sees it in, tiles still show as soft squares
    (the tiny model did so in smooth ~260 K regions while its GroupNorm had one channel a
    group: model/blocks.py): that is the model's, not the blend's. On a GPU the network runs
    under bf16 autocast."""
    if not np.isfinite(ir).all():
        raise ValueError("translate_batch takes network input, NaN filled: see Transform.input")
    n, c, h, w = ir.shape
    overlap = tile_overlap(tile)
    ys, xs = tile_corners(h, tile), tile_corners(w, tile)
    ph, pw = ys[-1] + tile + overlap, xs[-1] + tile + overlap  # padded size
    x = _pad(torch.from_numpy(ir).float(), overlap, ph - h - overlap, pw - w - overlap)
    corners = [(i, y + overlap, x0 + overlap) for i in range(n) for y in ys for x0 in xs]
    weight = torch.from_numpy(blend_window(tile, overlap))
    out = torch.zeros(n, model.cfg.out_channels, ph, pw)
    total = torch.zeros(n, 1, ph, pw)
    for first in range(0, len(corners), TILES_PER_PASS):
        part = corners[first : first + TILES_PER_PASS]
        tiles = torch.stack([x[i, :, y : y + tile, x0 : x0 + tile] for i, y, x0 in part])
        with torch.autocast("cuda", torch.bfloat16, enabled=str(device).startswith("cuda")):
            rec, _, _ = model(tiles.to(device))  # bf16 on GPUs; the quantizer keeps to fp32
        rec = rec.clamp(-1, 1).float().cpu() * weight
        for (i, y, x0), r in zip(part, rec, strict=True):
            out[i, :, y : y + tile, x0 : x0 + tile] += r
            total[i, :, y : y + tile, x0 : x0 + tile] += weight
    return (out / total)[:, :, overlap : overlap + h, overlap : overlap + w].numpy()


@dataclass(frozen=True)
class Translator:
    """A loaded generator with the data settings, statistics (as its transform) and grid
    settings it was trained with."""

    model: Generator  # the VQGAN or the U-Net baseline
    meta: dict
    data_cfg: DataConfig
    transform: Transform  # the dataset's, from the export's settings and statistics
    grid: GridSettings  # how the store it trained on brought scans onto the 2 km grid
    checkpoint: Path
    device: str

    @classmethod
    def load(cls, checkpoint: Path, device: str) -> Translator:
        path = export_path(checkpoint)
        if not is_export(path):
            raise UsageError(
                f"--checkpoint {checkpoint}: no generator export (a finished training run dir, "
                "or a folder written by python -m hpc_vqvae.export)"
            )
        model, meta = load_generator(path, device)
        data_cfg = DataConfig(**meta["config"]["data"])
        # the training days' statistics, as the run record holds them (train/checkpoint.py)
        transform = Transform(data_cfg, meta.get("statistics", {}), f"checkpoint {checkpoint}")
        # Checkpoints from before the store's identity was carried: stores then were made
        # with the default grid settings unless their maker changed them.
        grid = GridSettings.from_attrs(meta.get("store", {}))
        return cls(model, meta, data_cfg, transform, grid, checkpoint, device)

    def check_store(self, store: Store) -> None:
        """A store made with other grid settings than the one the model trained on would feed
        it other inputs (checkpoints that predate the record cannot tell, and pass)."""
        store.require_arrays(self.input_bands)
        if "store" in self.meta and store.grid_settings != self.grid:
            raise UsageError(
                f"data store {store.path} was made with {store.grid_settings}, but the model "
                f"trained on a store made with {self.grid}: preprocess the range with those "
                "settings"
            )

    @property
    def input_bands(self) -> list[str]:
        return self.data_cfg.input_bands

    @property
    def sun_normalised(self) -> bool:
        return self.data_cfg.divide_by_cos_sza

    def reflectance(self, bt: np.ndarray) -> np.ndarray:
        """(N, C, H, W) brightness temperatures -> (N, 3, H, W) R, G, B reflectance factors in
        the convention the model was trained on (not yet masked where the IR is invalid).

        A model trained on reflectance / cos(sza) predicts the scene as lit by an overhead
        sun; that is kept: multiplying the sun back in would black out the night, which is
        what this product is for (the outputs say which convention they carry)."""
        ir = self.transform.input(bt, axis=1)  # missing IR filled as in training
        out = translate_batch(self.model, ir, self.data_cfg.patch_size, self.device)
        return self.transform.reflectance(out)
