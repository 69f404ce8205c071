"""``python -m hpc_vqvae.predict``: synthetic visible imagery from the IR bands of one scan.

    python -m hpc_vqvae.predict --checkpoint RUN_DIR --archive ROOT --time 2019-12-01T10:27 \\
        --output out.nc [--png quicklook.png] [--latlon]

writes the synthetic R, G, B reflectance on the scan's 2 km fixed grid as CF-1.8 netCDF, with
the ``goes_imager_projection`` grid mapping and x/y scan angles (so that satpy, pyresample and
cartopy users can map it), the solar zenith, lat/lon on request, and attributes that say it is
AI-generated and which model made it. Full 500 x 500 scans are padded to the model's multiple.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from .abi.bands import band_number, pixels_per_2km
from .abi.geometry import fixed_grid_lonlat, sun_zenith
from .abi.names import walk_archive
from .abi.reader import ABIReadError, read_band
from .data.config import DataConfig
from .data.normalize import Normalizer
from .model import ModelConfig, VQModel

PROJ_KEYS = (
    "semi_major_axis",
    "semi_minor_axis",
    "perspective_point_height",
    "longitude_of_projection_origin",
    "latitude_of_projection_origin",
    "sweep_angle_axis",
)


class PredictError(ValueError):
    """A request that cannot be served (one line, naming the culprit)."""


def load_generator(checkpoint: Path, device: str = "cpu") -> tuple[VQModel, dict]:
    """The exported generator (``RUN/generator.pt``) and its metadata."""
    path = checkpoint / "generator.pt" if checkpoint.is_dir() else checkpoint
    if not path.is_file():
        raise PredictError(
            f"--checkpoint {checkpoint}: no generator.pt (a finished training run dir)"
        )
    blob = torch.load(path, map_location=device, weights_only=False)
    model = VQModel(ModelConfig(**blob["config"]["model"]))
    model.load_state_dict(blob["generator"])
    return model.to(device).eval(), blob


def find_scan(archive: Path, when: datetime, satellite: str, sector: str, bands: list[str]) -> dict:
    """The files of the scan starting within the minute of ``when``, by band."""
    if not archive.is_dir():
        raise PredictError(f"--archive {archive}: no such directory")
    files: dict[str, Path] = {}
    for entry in walk_archive(archive, years=[when.year], sectors=[sector]):
        n = entry.name
        near = n is not None and abs(n.start - when) < timedelta(minutes=1)
        if near and (n.satellite, n.sector) == (satellite, sector):
            files[f"C{n.band:02d}"] = entry.path
    missing = [b for b in bands if b not in files]
    if missing:
        raise PredictError(
            f"no {satellite} {sector} scan at {when:%Y-%m-%dT%H:%M} with {','.join(missing)} "
            f"in {archive}"
        )
    return files


def read_scan(
    files: dict[str, Path], bands: list[str]
) -> tuple[dict[str, np.ndarray], xr.DataArray]:
    """Bands on the 2 km grid (block means of finer ones), and one 2 km band for the grid."""
    from .preprocess.scan import block_mean

    out, grid = {}, None
    for b in bands:
        try:
            da = read_band(files[b])
        except ABIReadError as err:
            raise PredictError(str(err)) from None
        f = pixels_per_2km(band_number(b))
        out[b] = block_mean(da.values, f, max(1, f * f // 2))
        if f == 1 and grid is None:
            grid = da
    if grid is None:
        raise PredictError("no 2 km input band to take the grid from")
    return out, grid


@torch.no_grad()
def translate(model: VQModel, ir: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(C, H, W) normalised IR -> (3, H, W) network output in [-1, 1]; reflect-padded to the
    model's multiple and cropped back."""
    m = model.cfg.downsampling
    h, w = ir.shape[-2:]
    x = torch.from_numpy(np.nan_to_num(ir, nan=0.0)).float()[None].to(device)
    x = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode="reflect")
    rec, _, _ = model(x)
    return rec[0, :, :h, :w].clamp(-1, 1).cpu().numpy()


def to_dataset(
    rgb: np.ndarray,
    grid: xr.DataArray,
    sza: np.ndarray,
    ir_ok: np.ndarray,
    meta: dict,
    checkpoint: Path,
    latlon: bool,
) -> xr.Dataset:
    """CF-1.8: R, G, B on the fixed grid with the geostationary grid mapping."""
    rgb = np.where(ir_ok[None], rgb, np.nan).astype(np.float32)
    common = {"grid_mapping": "goes_imager_projection", "units": "1", "coordinates": "t"}
    data = {
        c: (
            ("y", "x"),
            rgb[i],
            {
                **common,
                "long_name": f"synthetic {c} reflectance factor",
                "standard_name": "toa_bidirectional_reflectance",
            },
        )
        for i, c in enumerate("RGB")
    }
    data["solar_zenith_angle"] = (
        ("y", "x"),
        sza.astype(np.float32),
        {
            "units": "degree",
            "standard_name": "solar_zenith_angle",
            "grid_mapping": "goes_imager_projection",
        },
    )
    proj = {k: grid.attrs[k] for k in PROJ_KEYS}
    data["goes_imager_projection"] = (
        (),
        np.int32(0),
        {
            "grid_mapping_name": "geostationary",
            **proj,
            "long_name": "GOES-R ABI fixed grid projection",
        },
    )
    if latlon:
        lon, lat = fixed_grid_lonlat(
            grid.x.values, grid.y.values, **{k: proj[k] for k in PROJ_KEYS[:4]}
        )
        data["lon"] = (
            ("y", "x"),
            lon.astype(np.float32),
            {"units": "degrees_east", "standard_name": "longitude"},
        )
        data["lat"] = (
            ("y", "x"),
            lat.astype(np.float32),
            {"units": "degrees_north", "standard_name": "latitude"},
        )
    coords = {
        "x": (
            "x",
            grid.x.values,
            {
                "units": "rad",
                "axis": "X",
                "standard_name": "projection_x_coordinate",
                "long_name": "GOES fixed grid projection x-coordinate",
            },
        ),
        "y": (
            "y",
            grid.y.values,
            {
                "units": "rad",
                "axis": "Y",
                "standard_name": "projection_y_coordinate",
                "long_name": "GOES fixed grid projection y-coordinate",
            },
        ),
        "t": ((), np.datetime64(grid.attrs["time"], "ns"), {"standard_name": "time"}),
    }
    attrs = {
        "Conventions": "CF-1.8",
        "title": "Synthetic visible imagery from infrared (AI-generated)",
        "source": "AI-generated by a VQVAE-GAN (hpc-vqvae) from ABI bands "
        + ",".join(meta["config"]["data"]["input_bands"])
        + "; not an observation",
        "ai_generated": "true",
        "model_checkpoint": str(checkpoint),
        "model_step": int(meta.get("step", -1)),
        "mlflow_run_id": str(meta.get("mlflow_run_id") or ""),
        "platform": grid.attrs["platform"],
        "sector": grid.attrs["sector"],
        "scan_start": grid.attrs["start_time"],
        "history": f"{datetime.utcnow():%Y-%m-%dT%H:%M:%SZ} python -m hpc_vqvae.predict",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def quicklook(path: Path, ir: np.ndarray, rgb: np.ndarray, real: np.ndarray | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("IR input", -ir, "gray"), ("synthetic visible", rgb, None)]
    if real is not None:
        panels.append(("real visible", real, None))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4.5))
    for ax, (title, img, cmap) in zip(np.atleast_1d(axes), panels, strict=True):
        if img.ndim == 3:
            img = np.clip(np.nan_to_num(img.transpose(1, 2, 0)), 0, 1) ** 0.5
        ax.imshow(img, cmap=cmap)
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def predict_scan(
    checkpoint: Path,
    archive: Path,
    when: datetime,
    satellite: str,
    sector: str,
    device: str = "cpu",
    latlon: bool = False,
) -> tuple[xr.Dataset, dict]:
    """(CF dataset, what the quicklook needs) for the scan that starts at ``when``."""
    model, meta = load_generator(checkpoint, device)
    data_cfg = DataConfig(**meta["config"]["data"])
    norm = Normalizer(data_cfg, meta.get("statistics", {}), f"checkpoint {checkpoint}")
    files = find_scan(archive, when, satellite, sector, data_cfg.input_bands)
    bands, grid = read_scan(files, data_cfg.input_bands)
    bt = np.stack([bands[b] for b in data_cfg.input_bands])
    ir_ok = np.isfinite(bt).all(0)
    rgb = norm.vis_to_reflectance(translate(model, norm.ir(bt), device))
    proj = {k: grid.attrs[k] for k in PROJ_KEYS[:4]}
    lon, lat = fixed_grid_lonlat(grid.x.values, grid.y.values, **proj)
    sza = sun_zenith(np.datetime64(grid.attrs["time"]), lon, lat)
    if data_cfg.divide_by_cos_sza:  # the model predicts albedo-like values: put the sun back
        rgb = rgb * np.clip(np.cos(np.radians(sza)), 0, 1)[None]
    extras = {"files": files, "bt": bt, "rgb": rgb, "sza": sza, "data_cfg": data_cfg, "norm": norm}
    return to_dataset(rgb, grid, sza, ir_ok, meta, checkpoint, latlon), extras


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.predict", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--checkpoint", type=Path, required=True, help="a training run dir (generator.pt)"
    )
    p.add_argument("--archive", type=Path, required=True, help="ABI-L1b-Rad*/YYYY/JJJ/HH tree")
    p.add_argument("--time", required=True, help="scan start, e.g. 2019-12-01T10:27 (UTC)")
    p.add_argument("--satellite", default="G17")
    p.add_argument("--sector", default="M1")
    p.add_argument("--output", type=Path, required=True, help="the netCDF file to write")
    p.add_argument("--png", type=Path, help="also write a quicklook PNG")
    p.add_argument("--latlon", action="store_true", help="add lat/lon variables")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    try:
        when = datetime.fromisoformat(args.time)
        ds, extras = predict_scan(
            args.checkpoint,
            args.archive,
            when,
            args.satellite,
            args.sector,
            args.device,
            args.latlon,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    encoding = {v: {"zlib": True, "complevel": 4} for v in ("R", "G", "B", "solar_zenith_angle")}
    ds.to_netcdf(args.output, encoding=encoding)
    print(f"wrote {args.output} ({ds.sizes['y']}x{ds.sizes['x']}, scan {ds.attrs['scan_start']})")
    if args.png:
        real = None
        cfg, files = extras["data_cfg"], extras["files"]
        if float(np.nanmedian(extras["sza"])) < cfg.day_sza_max and all(
            b in files for b in cfg.target_bands
        ):
            refl, _ = read_scan(files, cfg.target_bands)
            real = extras["norm"].composite(refl)
        quicklook(args.png, extras["bt"][0], extras["rgb"], real)
        print(f"quicklook {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
