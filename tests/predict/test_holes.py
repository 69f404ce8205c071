"""One transform: a scan with a hole (missing IR) reaches the network as the same numbers by
the training dataset, by ``predict`` and by ``evaluate``, and comes out the same."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import xarray as xr
import zarr
from torch.nn.modules.module import register_module_forward_hook

from hpc_vqvae.data import DataConfig, PatchDataset
from hpc_vqvae.data.transform import INPUT_FILL
from hpc_vqvae.evaluate.run import evaluate
from hpc_vqvae.evaluate.scans import by_range
from hpc_vqvae.model.translator import Translator, tile_corners
from hpc_vqvae.model.vqgan import VQModel
from hpc_vqvae.predict import main as predict
from hpc_vqvae.predict.sources import parse_end, parse_time, select_scans

pytestmark = [pytest.mark.slow, pytest.mark.deepspeed]

SCAN = "2020-05-01T20:00"  # a daytime scan of the trained fixture's store
HOLE = (slice(250, 280), slice(250, 280))  # 30 x 30 pixels of missing C13
CORNER = 232  # a tile origin of the model's tiling (32 px, stride 24, from -8) on the hole


class NetworkCalls:
    """Every generator forward in this process, whoever loaded the generator: what went
    in and what came out, tile batch by tile batch."""

    def __init__(self):
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []

    def __enter__(self) -> NetworkCalls:
        def record(module, args, output):
            if isinstance(module, VQModel):
                self.inputs.append(args[0].detach().clone())
                self.outputs.append(output[0].detach().clone())

        self._handle = register_module_forward_hook(record)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()

    def tiles(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.cat(self.inputs), torch.cat(self.outputs)


@pytest.fixture(scope="module")
def holed(trained, tmp_path_factory):
    """The trained model's store with the hole cut into one scan's C13."""
    path = tmp_path_factory.mktemp("holes") / "holed.zarr"
    shutil.copytree(trained.store, path)
    scans = select_scans(path, parse_time("--start", SCAN), parse_end("--end", SCAN))
    (t,) = scans.index
    c13 = zarr.open_group(path, mode="r+")["C13"]
    scan = c13[int(t)]
    assert np.isfinite(scan[HOLE]).all()  # the hole is ours
    scan[HOLE] = np.nan
    c13[int(t)] = scan
    return path, int(t)


def test_dataset_predict_and_evaluate_feed_the_network_alike(trained, holed, tmp_path):
    store, t = holed
    model = Translator.load(trained.run_dir, "cpu")
    c13 = model.input_bands.index("C13")

    # the training dataset's crop at a tile corner of the holed scan
    cfg = DataConfig(**{**model.data_cfg.model_dump(), "store": store})
    item = PatchDataset(cfg, "val")._item(t, CORNER, CORNER, k=0)  # every sample's one path
    p = cfg.patch_size
    inside = (slice(HOLE[0].start - CORNER, p), slice(HOLE[1].start - CORNER, p))
    assert (item["ir"][c13][inside] == INPUT_FILL).all()  # filled in network units
    assert (item["mask"][0][inside] == 0).all()
    assert INPUT_FILL == 0.0  # the range's centre: ~255 K, not 0 K

    out = tmp_path / "holed_pred.zarr"
    with NetworkCalls() as by_predict:
        argv = ["--checkpoint", str(trained.run_dir), "--store", str(store)]
        argv += ["--start", SCAN, "--end", SCAN, "--output", str(out), "--device", "cpu"]
        assert predict(argv) == 0
    scans = select_scans(store, parse_time("--start", SCAN), parse_end("--end", SCAN))
    with NetworkCalls() as by_evaluate:
        sel = by_range(model, store, scans.index, scans.time, in_sample=True)
        scores = evaluate(model, sel, {"sza"}, "cpu")
    assert scores.groups["model"]["all"]["pixels"] > 0

    x_pred, y_pred = by_predict.tiles()
    x_eval, y_eval = by_evaluate.tiles()
    assert x_pred.shape == x_eval.shape and torch.isfinite(x_pred).all()
    assert torch.equal(x_pred, x_eval), "evaluate feeds the network other inputs than predict"
    assert torch.equal(y_pred, y_eval), "evaluate's model output differs from predict's"

    # the dataset's crop is predict's tile at that corner, input and output
    bt = np.stack([zarr.open_group(store, mode="r")[b][t] for b in model.input_bands])
    assert bt.shape[1] == bt.shape[2]
    starts = tile_corners(bt.shape[1], p)
    tile = starts.index(CORNER) * len(starts) + starts.index(CORNER)
    assert torch.equal(item["ir"], x_pred[tile])
    with torch.no_grad():
        rec = model.model(item["ir"][None])[0][0]
    torch.testing.assert_close(rec, y_pred[tile], rtol=0, atol=1e-5)

    # predict's written output: NaN in the hole, the model's reflectance elsewhere
    want = model.reflectance(bt[None])[0]
    with xr.open_zarr(out) as ds:
        got = np.stack([ds[c].values[0] for c in "RGB"])
    assert np.isnan(got[:, HOLE[0], HOLE[1]]).all()
    ok = np.isfinite(bt).all(0)
    np.testing.assert_array_equal(got[:, ok], want[:, ok].astype(np.float32))
