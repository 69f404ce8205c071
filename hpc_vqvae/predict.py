"""``python -m hpc_vqvae.predict``: synthetic visible imagery from the IR bands of ABI scans.

    python -m hpc_vqvae.predict --checkpoint RUN_DIR|MLFLOW_RUN_ID --archive ROOT \\
        --time 2019-12-01T10:27 --output out.nc [--png quicklook.png] [--latlon]
    python -m hpc_vqvae.predict --checkpoint RUN_DIR|MLFLOW_RUN_ID --store STORE.zarr \\
        --start 2020-05-01T17:00 --end 2020-05-02T00:00 --output out.zarr [--batch-size 8]

One archive scan goes to CF-1.8 netCDF; every written scan of a preprocessed store in
[start, end] goes, in batches, to one Zarr store with dims (time, y, x). Both hold the
synthetic R, G, B reflectance on the 2 km fixed grid with the ``goes_imager_projection`` grid
mapping and x/y scan angles (so that satpy, pyresample and cartopy users can map it), the solar
zenith, lat/lon on request, and attributes that say it is AI-generated and which model made
it. Full 500 x 500 scans are padded to the model's multiple.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
import zarr
from tqdm import tqdm

from .abi.bands import band_number, pixels_per_2km
from .abi.geometry import GEOMETRY_KEYS, PROJECTION_KEYS, fixed_grid_lonlat, solar_zenith
from .abi.names import walk_archive
from .abi.reader import ABIReadError, read_band
from .data.config import DataConfig
from .data.normalize import Normalizer
from .data.store import open_store, require_arrays, scan_table
from .model import ModelConfig, VQModel
from .train.tracking import RUN_DIR_TAG

GRID_MAPPING = "goes_imager_projection"
RUN_ID = re.compile(r"[0-9a-f]{32}")
# Scan angles of one grid agree to far better than this; moved meso sectors differ by >= 28 urad.
SAME_GRID_RAD = 1e-9
# As in the preprocessed store: a range's scans as int64 microseconds, whatever the batch.
TIME_UNITS = "microseconds since 2000-01-01 12:00:00"


class PredictError(ValueError):
    """A request that cannot be served (one line, naming the culprit)."""


# --- the model -------------------------------------------------------------------------------


def resolve_checkpoint(arg: str, tracking_uri: str | None) -> Path:
    """``arg`` as a path, or, if it is none and looks like an MLflow run id, the run's folder
    from the tag the trainer sets (generator.pt is not an artifact: it can be large)."""
    path = Path(arg)
    if path.exists() or not RUN_ID.fullmatch(arg):
        return path
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise PredictError(
            f"--checkpoint {arg}: no such path; as an MLflow run id it needs --tracking-uri "
            "or MLFLOW_TRACKING_URI"
        )
    run_dir = _mlflow_run_dir(arg, uri)
    if not (run_dir / "generator.pt").is_file():
        raise PredictError(
            f"MLflow run {arg}: no generator.pt in its run dir {run_dir} "
            "(unfinished, or the folder moved: pass the run dir instead)"
        )
    return run_dir


def _mlflow_run_dir(run_id: str, uri: str) -> Path:
    """The run folder recorded in the run's tags; every failure on the way is one line."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise PredictError(f"--tracking-uri {uri}: no such MLflow database")  # not create one
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # their INFO lines would bury a one-line error
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        run = MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise PredictError(f"--checkpoint {run_id}: no such MLflow run at {uri}") from None
        first = str(err).splitlines()[0][:200]
        raise PredictError(f"MLflow at {uri} did not answer ({err.error_code}: {first})") from None
    except Exception as err:  # noqa: BLE001 (e.g. a database that is not MLflow's)
        raise PredictError(f"MLflow at {uri}: {type(err).__name__}") from None
    run_dir = run.data.tags.get(RUN_DIR_TAG)
    if not run_dir:
        raise PredictError(
            f"MLflow run {run_id} has no tag {RUN_DIR_TAG} (trained before it was recorded): "
            "pass the run dir"
        )
    return Path(run_dir)


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


@torch.no_grad()
def translate_batch(model: VQModel, ir: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(N, C, H, W) normalised IR -> (N, 3, H, W) network output in [-1, 1]; reflect-padded to
    the model's multiple (its encoder halves the size) and cropped back."""
    m = model.cfg.downsampling
    h, w = ir.shape[-2:]
    x = torch.from_numpy(np.nan_to_num(ir, nan=0.0)).float().to(device)
    x = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode="reflect")
    rec, _, _ = model(x)
    return rec[:, :, :h, :w].clamp(-1, 1).cpu().numpy()


def translate(model: VQModel, ir: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(C, H, W) normalised IR -> (3, H, W) network output in [-1, 1]."""
    return translate_batch(model, ir[None], device)[0]


@dataclass(frozen=True)
class Generator:
    """A loaded generator with the data settings and statistics it was trained with."""

    model: VQModel
    meta: dict
    data_cfg: DataConfig
    norm: Normalizer
    checkpoint: Path
    device: str

    @classmethod
    def load(cls, checkpoint: Path, device: str) -> Generator:
        model, meta = load_generator(checkpoint, device)
        data_cfg = DataConfig(**meta["config"]["data"])
        norm = Normalizer(data_cfg, meta.get("statistics", {}), f"checkpoint {checkpoint}")
        return cls(model, meta, data_cfg, norm, checkpoint, device)

    def reflectance(self, bt: np.ndarray) -> np.ndarray:
        """(N, C, H, W) brightness temperatures -> (N, 3, H, W) R, G, B reflectance factors in
        the convention the model was trained on (not yet masked where the IR is invalid)."""
        ir = self.norm.ir(bt.swapaxes(0, 1)).swapaxes(0, 1)  # it scales (C, ...) by band
        rgb = self.norm.vis_to_reflectance(translate_batch(self.model, ir, self.device))
        # A model trained on reflectance / cos(sza) predicts the scene as lit by an overhead
        # sun. That is kept as it is: multiplying the sun back in would black out the night,
        # which is what this product is for (the files say which convention they carry).
        return rgb


# --- one scan from the L1b archive ------------------------------------------------------------


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
    out, grid = {}, None
    for b in bands:
        f = pixels_per_2km(band_number(b))
        try:
            da = read_band(files[b], coarsen=f, min_valid=max(1, f * f // 2))
        except ABIReadError as err:
            raise PredictError(str(err)) from None
        out[b] = da.values
        if f == 1 and grid is None:
            grid = da
    if grid is None:
        raise PredictError("no 2 km input band to take the grid from")
    return out, grid


# --- a time range from the preprocessed store ------------------------------------------------


def parse_time(flag: str, text: str) -> datetime:
    """An ISO time (UTC unless it says otherwise) -> naive UTC, as the archive and store keep it."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise PredictError(f"{flag} {text!r}: not an ISO time such as 2020-05-01T17:00") from None
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def iso(t: np.datetime64) -> str:
    """ISO 8601 UTC to the millisecond (scan starts are at .5 s)."""
    return np.datetime_as_string(np.datetime64(t, "ms"), unit="ms") + "Z"


@dataclass(frozen=True)
class StoreRange:
    """The written scans of a store in [start, end], in time order."""

    path: Path
    group: zarr.Group  # read-only
    index: np.ndarray  # positions along the store's time axis
    time: np.ndarray  # datetime64[ns] scan starts

    @property
    def attrs(self) -> dict:
        return dict(self.group.attrs)


def select_scans(store: Path, start: datetime, end: datetime) -> StoreRange:
    """Written scans of ``store`` whose start is in [start, end]; none is an error."""
    if start > end:
        raise PredictError(
            f"--start {start:%Y-%m-%dT%H:%M:%S} is after --end {end:%Y-%m-%dT%H:%M:%S}"
        )
    try:
        group = open_store(store)
    except (FileNotFoundError, ValueError) as err:
        raise PredictError(str(err)) from None  # it names the store
    table = scan_table(group, store)
    inside = (table.time >= np.datetime64(start, "ns")) & (table.time <= np.datetime64(end, "ns"))
    pick = np.flatnonzero(inside & (table.written == 1))
    if not pick.size:
        span = f"{iso(table.time.min())} .. {iso(table.time.max())}" if table.time.size else "none"
        raise PredictError(
            f"no written scans from {start:%Y-%m-%dT%H:%M:%S} to {end:%Y-%m-%dT%H:%M:%S} "
            f"in {store} (its scans: {span})"
        )
    skipped = int(inside.sum()) - pick.size
    if skipped:
        print(f"skipping {skipped} scan(s) in range not written (see the report)", file=sys.stderr)
    pick = pick[np.argsort(table.time[pick], kind="stable")]  # appended years can be out of order
    return StoreRange(store, group, pick, table.time[pick])


@dataclass(frozen=True)
class ScanBatch:
    """Consecutive scans of a range, as the store holds them."""

    time: np.ndarray  # (N,) datetime64[ns]
    bt: np.ndarray  # (N, C, H, W) input bands
    sza: np.ndarray  # (N, H, W) solar zenith (deg)
    x: np.ndarray  # (N, nx) scan angles (rad)
    y: np.ndarray  # (N, ny)


def read_batch(scans: StoreRange, part: slice, bands: list[str]) -> ScanBatch:
    """Scans ``part`` of the range: one chunk (a whole scan) per band and scan, as the store is
    laid out."""
    g, positions = scans.group, scans.index[part]
    return ScanBatch(
        time=scans.time[part],
        bt=np.stack([np.stack([g[b][i] for b in bands]) for i in positions]),
        sza=np.stack([g["sza"][i] for i in positions]),
        x=np.stack([g["fixed_grid_x"][i] for i in positions]),
        y=np.stack([g["fixed_grid_y"][i] for i in positions]),
    )


def store_projection(attrs: dict) -> dict:
    """The fixed-grid projection the preprocessing stage read from the files, or for stores
    that predate it the nominal one of the store's satellite (GOES-R fixes it per slot)."""
    from .abi.platforms import PLATFORMS, projection

    if all(k in attrs.get("projection", {}) for k in PROJECTION_KEYS):
        return dict(attrs["projection"])
    satellite = attrs["satellite"]
    if satellite not in PLATFORMS:
        raise PredictError(f"store satellite {satellite!r}: not one of {sorted(PLATFORMS)}")
    return {**projection(satellite), "latitude_of_projection_origin": 0.0, "sweep_angle_axis": "x"}


# --- CF output -------------------------------------------------------------------------------


def _reflectance_vars(rgb: np.ndarray, ir_ok: np.ndarray, dims: tuple, extra: dict) -> dict:
    """R, G, B from (..., 3, H, W), NaN wherever an input band is invalid."""
    rgb = np.where(np.expand_dims(ir_ok, -3), rgb, np.nan).astype(np.float32)
    attrs = {"grid_mapping": GRID_MAPPING, "units": "1", **extra}
    return {
        c: (
            dims,
            np.take(rgb, i, axis=-3),
            {
                **attrs,
                "long_name": f"synthetic {c} reflectance factor",
                "standard_name": "toa_bidirectional_reflectance",
            },
        )
        for i, c in enumerate("RGB")
    }


def _sza_var(sza: np.ndarray, dims: tuple) -> tuple:
    attrs = {"units": "degree", "standard_name": "solar_zenith_angle", "grid_mapping": GRID_MAPPING}
    return dims, sza.astype(np.float32), attrs


def _projection_var(proj: dict) -> tuple:
    attrs = {
        "grid_mapping_name": "geostationary",
        **{k: proj[k] for k in PROJECTION_KEYS},
        "long_name": "GOES-R ABI fixed grid projection",
    }
    return (), np.int32(0), attrs


def _lonlat_vars(x: np.ndarray, y: np.ndarray, proj: dict, dims: tuple) -> dict:
    """lon/lat on 1-D x/y, or per scan for stacked (N, nx)/(N, ny) scan angles."""
    geo = {k: proj[k] for k in GEOMETRY_KEYS}
    if x.ndim == 1:
        lon, lat = fixed_grid_lonlat(x, y, **geo)
    else:
        per_scan = [fixed_grid_lonlat(a, b, **geo) for a, b in zip(x, y, strict=True)]
        lon, lat = (np.stack(v) for v in zip(*per_scan, strict=True))
    return {
        "lon": (
            dims,
            lon.astype(np.float32),
            {"units": "degrees_east", "standard_name": "longitude"},
        ),
        "lat": (
            dims,
            lat.astype(np.float32),
            {"units": "degrees_north", "standard_name": "latitude"},
        ),
    }


def _xy_coords(x: np.ndarray, y: np.ndarray) -> dict:
    """The CF projection coordinates: scan angles of a grid shared by every scan."""

    def coord(axis: str, values: np.ndarray) -> tuple:
        return (
            axis,
            values,
            {
                "units": "rad",
                "axis": axis.upper(),
                "standard_name": f"projection_{axis}_coordinate",
                "long_name": f"GOES fixed grid projection {axis}-coordinate",
            },
        )

    return {"x": coord("x", x), "y": coord("y", y)}


SUN_NORMALISED = "reflectance factor / cos(solar zenith): the scene as lit by an overhead sun"


def _global_attrs(meta: dict, checkpoint: Path, platform: str, sector: str) -> dict:
    return {
        "Conventions": "CF-1.8",
        "title": "Synthetic visible imagery from infrared (AI-generated)",
        "source": "AI-generated by a VQVAE-GAN (hpc-vqvae) from ABI bands "
        + ",".join(meta["config"]["data"]["input_bands"])
        + "; not an observation",
        "ai_generated": "true",
        "model_checkpoint": str(checkpoint.resolve()),
        "model_step": int(meta.get("step", -1)),
        "mlflow_run_id": str(meta.get("mlflow_run_id") or ""),
        "platform": platform,
        "sector": sector,
        "reflectance_convention": SUN_NORMALISED
        if meta["config"]["data"].get("divide_by_cos_sza")
        else "reflectance factor at the scan's solar geometry (dark at night)",
        "history": f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} python -m hpc_vqvae.predict",
    }


def to_dataset(
    rgb: np.ndarray,
    grid: xr.DataArray,
    sza: np.ndarray,
    ir_ok: np.ndarray,
    meta: dict,
    checkpoint: Path,
    latlon: bool,
) -> xr.Dataset:
    """One scan, CF-1.8: R, G, B on the fixed grid with the geostationary grid mapping."""
    proj = {k: grid.attrs[k] for k in PROJECTION_KEYS}
    yx = ("y", "x")
    data = _reflectance_vars(rgb, ir_ok, yx, {"coordinates": "t"})
    data["solar_zenith_angle"] = _sza_var(sza, yx)
    data[GRID_MAPPING] = _projection_var(proj)
    if latlon:
        data.update(_lonlat_vars(grid.x.values, grid.y.values, proj, yx))
    coords = {
        **_xy_coords(grid.x.values, grid.y.values),
        "t": ((), np.datetime64(grid.attrs["time"], "ns"), {"standard_name": "time"}),
    }
    attrs = _global_attrs(meta, checkpoint, grid.attrs["platform"], grid.attrs["sector"])
    attrs["scan_start"] = grid.attrs["start_time"]
    return xr.Dataset(data, coords=coords, attrs=attrs)


@dataclass(frozen=True)
class RangeLayout:
    """What every batch of a range's output shares."""

    proj: dict
    shared_grid: bool  # every scan on one fixed grid (full disk, CONUS, a meso sector at rest)
    latlon: bool
    attrs: dict


def batch_dataset(batch: ScanBatch, rgb: np.ndarray, layout: RangeLayout) -> xr.Dataset:
    """A batch of a range, dims (time, y, x). Meso sectors move between scans, so the scan
    angles are kept per scan (``fixed_grid_x/y``, as in the store); only where every scan of
    the range shares one grid are they also the 1-D CF coordinates x/y."""
    tyx, proj = ("time", "y", "x"), layout.proj
    data = _reflectance_vars(rgb, np.isfinite(batch.bt).all(1), tyx, {})
    data["solar_zenith_angle"] = _sza_var(batch.sza, tyx)
    data[GRID_MAPPING] = _projection_var(proj)
    if layout.latlon and layout.shared_grid:
        data.update(_lonlat_vars(batch.x[0], batch.y[0], proj, ("y", "x")))
    elif layout.latlon:
        data.update(_lonlat_vars(batch.x, batch.y, proj, tyx))
    coords = {
        "time": ("time", batch.time, {"standard_name": "time", "long_name": "scan start (UTC)"}),
        "fixed_grid_x": (("time", "x"), batch.x, _scan_angle_attrs("x")),
        "fixed_grid_y": (("time", "y"), batch.y, _scan_angle_attrs("y")),
    }
    if layout.shared_grid:
        coords.update(_xy_coords(batch.x[0], batch.y[0]))
    return xr.Dataset(data, coords=coords, attrs=layout.attrs)


def _scan_angle_attrs(axis: str) -> dict:
    """CF names on the per-scan angles, so that one scan's become its x/y by assign_coords."""
    return {
        "units": "rad",
        "standard_name": f"projection_{axis}_coordinate",
        "long_name": f"GOES fixed grid projection {axis}-coordinate of each scan",
    }


def range_layout(gen: Generator, scans: StoreRange, latlon: bool) -> RangeLayout:
    """Decided once for the whole range, so that every appended batch matches the first."""
    store = scans.attrs
    x = np.asarray(scans.group["fixed_grid_x"].oindex[scans.index])
    y = np.asarray(scans.group["fixed_grid_y"].oindex[scans.index])
    shared = bool(np.abs(x - x[0]).max() < SAME_GRID_RAD and np.abs(y - y[0]).max() < SAME_GRID_RAD)
    attrs = _global_attrs(gen.meta, gen.checkpoint, store["satellite"], store["sector"])
    attrs.update(
        source_store=str(scans.path.resolve()),
        time_coverage_start=iso(scans.time[0]),
        time_coverage_end=iso(scans.time[-1]),
    )
    return RangeLayout(store_projection(store), shared, latlon, attrs)


# --- writing ---------------------------------------------------------------------------------


def write_atomic(output: Path, write: Callable[[Path], None], overwrite: bool) -> None:
    """``write`` to a hidden sibling, then rename it to ``output``: an error or an interrupt
    leaves no partial output behind."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.partial-{os.getpid()}")
    try:
        write(tmp)
        if output.is_dir() and overwrite:
            shutil.rmtree(output)
        os.replace(tmp, output)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def _zarr_encoding(ds: xr.Dataset) -> dict:
    """One chunk per scan (what a reader of one time step wants), zstd like the input store."""
    zstd = [zarr.codecs.ZstdCodec(level=3)]
    enc = {
        v: {"chunks": (1, *ds[v].shape[1:]), "compressors": zstd}
        for v in ds.variables
        if ds[v].dims[:1] == ("time",) and v != "time"
    }
    enc["time"] = {"units": TIME_UNITS, "dtype": "int64", "chunks": (4096,)}
    return enc


def write_range(
    gen: Generator,
    scans: StoreRange,
    out: Path,
    batch_size: int,
    latlon: bool,
) -> None:
    """Predict the range batch by batch, appending each batch to the Zarr store ``out``: a
    long range never has to fit in memory."""
    layout = range_layout(gen, scans, latlon)
    with tqdm(total=len(scans.index), unit="scan", desc="predict", file=sys.stderr) as bar:
        for first in range(0, len(scans.index), batch_size):
            batch = read_batch(scans, slice(first, first + batch_size), gen.data_cfg.input_bands)
            ds = batch_dataset(batch, gen.reflectance(batch.bt), layout)
            if first == 0:
                ds.to_zarr(out, mode="w-", encoding=_zarr_encoding(ds), consolidated=False)
            else:
                still = [v for v in ds.variables if "time" not in ds[v].dims]
                ds.drop_vars(still).to_zarr(out, append_dim="time", consolidated=False)
            bar.update(len(batch.time))
    consolidate(out)


def scan_writer(ds: xr.Dataset, as_zarr: bool) -> Callable[[Path], None]:
    """Writes one scan's dataset: compressed netCDF, or Zarr for a ``*.zarr`` output."""

    def write(path: Path) -> None:
        if as_zarr:
            ds.to_zarr(path, mode="w-", consolidated=False)
            consolidate(path)
        else:
            netcdf = {"zlib": True, "complevel": 4}
            ds.to_netcdf(path, encoding={v: netcdf for v in ds.data_vars if ds[v].ndim})

    return write


def consolidate(out: Path) -> None:
    """One metadata read for whoever opens the result, as for the preprocessed store."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # consolidated metadata is not (yet) in the v3 spec
        zarr.consolidate_metadata(out)


# --- the two modes ---------------------------------------------------------------------------


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
    gen = Generator.load(checkpoint, device)
    files = find_scan(archive, when, satellite, sector, gen.data_cfg.input_bands)
    bands, grid = read_scan(files, gen.data_cfg.input_bands)
    bt = np.stack([bands[b] for b in gen.data_cfg.input_bands])
    sza = solar_zenith(grid).values
    rgb = gen.reflectance(bt[None])[0]
    ds = to_dataset(rgb, grid, sza, np.isfinite(bt).all(0), gen.meta, checkpoint, latlon)
    extras = {
        "files": files,
        "bt": bt,
        "rgb": rgb,
        "sza": sza,
        "data_cfg": gen.data_cfg,
        "norm": gen.norm,
    }
    return ds, extras


def _write_png(path: Path, extras: dict) -> None:
    """IR | synthetic | real visible, the last only by day and if the archive has the bands."""
    real = None
    cfg, files = extras["data_cfg"], extras["files"]
    if float(np.nanmedian(extras["sza"])) < cfg.day_sza_max and all(
        b in files for b in cfg.target_bands
    ):
        refl, _ = read_scan(files, cfg.target_bands)
        real = extras["norm"].composite(refl)
    quicklook(path, extras["bt"][0], extras["rgb"], real)


def run_scan(args: argparse.Namespace, checkpoint: Path) -> None:
    ds, extras = predict_scan(
        checkpoint,
        args.archive,
        parse_time("--time", args.time),
        args.satellite,
        args.sector,
        args.device,
        args.latlon,
    )
    write_atomic(args.output, scan_writer(ds, args.output.suffix == ".zarr"), args.overwrite)
    print(f"wrote {args.output} ({ds.sizes['y']}x{ds.sizes['x']}, scan {ds.attrs['scan_start']})")
    if args.png:
        _write_png(args.png, extras)
        print(f"quicklook {args.png}")


def run_range(args: argparse.Namespace) -> None:
    start, end = parse_time("--start", args.start), parse_time("--end", args.end)
    if args.output.suffix != ".zarr":
        raise PredictError(f"--output {args.output}: a range is written as Zarr (name it *.zarr)")
    if args.png:
        raise PredictError("--png draws one scan: use it with --archive/--time")
    if args.batch_size < 1:
        raise PredictError(f"--batch-size {args.batch_size}: must be at least 1")
    scans = select_scans(args.store, start, end)
    gen = Generator.load(resolve_checkpoint(args.checkpoint, args.tracking_uri), args.device)
    try:
        require_arrays(scans.group, gen.data_cfg.input_bands, args.store)
    except ValueError as err:
        raise PredictError(str(err)) from None
    write_atomic(
        args.output,
        lambda p: write_range(gen, scans, p, args.batch_size, args.latlon),
        args.overwrite,
    )
    print(
        f"wrote {args.output} ({len(scans.index)} scan(s), {iso(scans.time[0])} .. "
        f"{iso(scans.time[-1])})"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.predict", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        help="a training run dir (its generator.pt), or the run's MLflow run id",
    )
    p.add_argument("--tracking-uri", help="MLflow, for a run id (default: $MLFLOW_TRACKING_URI)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--archive", type=Path, help="ABI-L1b-Rad*/YYYY/JJJ/HH tree (one scan)")
    source.add_argument("--store", type=Path, help="a preprocessed Zarr store (a time range)")
    p.add_argument("--time", help="with --archive: scan start, e.g. 2019-12-01T10:27 (UTC)")
    p.add_argument("--satellite", default="G17", help="with --archive")
    p.add_argument("--sector", default="M1", help="with --archive")
    p.add_argument("--start", help="with --store: first scan start, inclusive (UTC)")
    p.add_argument("--end", help="with --store: last scan start, inclusive (UTC)")
    p.add_argument("--batch-size", type=int, default=8, help="scans per forward pass (--store)")
    p.add_argument("--output", type=Path, required=True, help="out.nc (one scan) or out.zarr")
    p.add_argument("--overwrite", action="store_true", help="replace an existing Zarr output")
    p.add_argument("--png", type=Path, help="also write a quicklook PNG (one scan)")
    p.add_argument("--latlon", action="store_true", help="add lat/lon variables")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p


def _check_flags(args: argparse.Namespace) -> None:
    """Each source with its own time flags; an existing Zarr output only with --overwrite."""
    if args.archive is not None and (args.time is None or args.start or args.end):
        raise PredictError("--archive takes --time (one scan), not --start/--end")
    if args.store is not None and (args.start is None or args.end is None or args.time):
        raise PredictError("--store takes --start and --end (a range), not --time")
    if args.output.is_dir() and not args.overwrite:
        raise PredictError(f"--output {args.output} exists; pass --overwrite to replace it")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        _check_flags(args)
        if args.store is not None:
            run_range(args)
        else:
            run_scan(args, resolve_checkpoint(args.checkpoint, args.tracking_uri))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
