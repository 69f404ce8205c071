"""``python -m hpc_vqvae.predict``: synthetic visible imagery from the IR bands of ABI scans.

    python -m hpc_vqvae.predict --checkpoint RUN_DIR|RUN_ID|MODEL_URI --archive ROOT \\
        --time 2019-12-01T10:27 --output out.nc [--png quicklook.png] [--latlon]
    python -m hpc_vqvae.predict --checkpoint RUN_DIR|RUN_ID|MODEL_URI --store STORE.zarr \\
        --start 2020-05-01T17:00 --end 2020-05-02T00:00 --output out.zarr [--batch-size 8] \\
        [--animation night.mp4|night.gif]

One archive scan goes to CF-1.11 netCDF; every written scan of a preprocessed store in
[start, end] goes, in batches, to one Zarr store with dims (time, y, x), or to CF netCDF
(``out.nc``) streamed from it, and on request to an animation of its frames. Full 500 x 500
scans are padded to the model's multiple.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import distributed as D
from .. import outputs
from ..abi.names import SECTORS
from ..abi.platforms import SATELLITE_CHOICES, satellite_on
from ..abi.selection import ArchiveSelection, satellite_help
from ..cli import default, exit_code
from ..errors import UsageError
from ..model.translator import Translator
from ..world import detect, setup
from . import animation, blend, shards
from .cf import RangeLayout, scan_dataset
from .checkpoint import resolve_checkpoint
from .flags import model_flags
from .maplines import Frame
from .quicklook import Scene, ir_band, is_quicklook, quicklook
from .sources import (
    find_scan,
    iso,
    parse_end,
    parse_time,
    read_scan,
    select_scans,
    warm_scans,
)
from .writers import is_prediction, replace_with, scan_writer, write_atomic, zarr_to_netcdf


def run_scan(args: argparse.Namespace) -> None:
    model = Translator.load(resolve_checkpoint(args.checkpoint, args.tracking_uri), args.device)
    when = parse_time("--time", args.time)
    satellite = satellite_on(args.satellite, when)
    files = find_scan(args.archive, when, satellite, args.sector, model.input_bands)
    scan = read_scan(files, model.input_bands, model.grid)
    bt = np.stack([scan.bands[b] for b in model.input_bands])
    sza = scan.sun_zenith()
    rgb = model.reflectance(bt[None])[0]
    ds = scan_dataset(rgb, scan, sza, model, args.latlon)
    if args.blend:
        ds = blend.blend_dataset(ds, _observed(model, files, sza), blend.band_of(args))
    write_atomic(args.output, scan_writer(ds, args.output.suffix == ".zarr"), args.overwrite)
    print(f"wrote {args.output} ({ds.sizes['y']}x{ds.sizes['x']}, scan {ds.attrs['scan_start']})")
    if args.png:
        band = ir_band(model.input_bands)
        scene = Scene(
            scan.attrs["platform"],
            scan.attrs["sector"],
            np.datetime64(scan.attrs["start_time"]),
            Frame(scan.x, scan.y, scan.projection),
        )
        real = _real_visible(model, files, sza)
        # with --blend, the product written: observed by day, synthetic by night
        shown = np.stack([ds[c].values for c in ("R", "G", "B")]) if args.blend else rgb
        quicklook(args.png, scene, scan.bands[band], band, shown, real, blended=args.blend)
        print(f"quicklook {args.png}")


def _real_visible(model: Translator, files: dict, sza: np.ndarray) -> np.ndarray | None:
    """The scan's own RGB composite, by day and where the archive has its bands, in the
    model's convention (sun-normalised if it was trained so): like beside like."""
    if not np.nanmedian(sza) < model.data_cfg.target_sza_max:
        return None
    return _observed(model, files, sza)


def _observed(model: Translator, files: dict, sza: np.ndarray) -> np.ndarray | None:
    """--blend: the scan's own visible in the model's target convention, whatever the sun
    (the blend decides where it is used); None where a band's file is missing."""
    cfg = model.data_cfg
    if not all(b in files for b in cfg.target_bands):
        return None
    bands = read_scan(files, cfg.target_bands, model.grid).bands
    return model.transform.target_reflectance(bands, sza)


def run_range(args: argparse.Namespace) -> None:
    """Every rank of the job (torchrun, srun, mpiexec, or one process) predicts its shards of
    the range into one partial Zarr store, which rank 0 then puts in place."""
    start, end = parse_time("--start", args.start), parse_end("--end", args.end)
    if args.output.suffix not in (".zarr", ".nc"):
        raise UsageError(f"--output {args.output}: a range is written as *.zarr or *.nc")
    if args.png:
        raise UsageError("--png draws one scan: use it with --archive/--time")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size}: must be at least 1")
    scans = select_scans(args.store, start, end)
    device = _join_ranks(args.device)
    model = Translator.load(resolve_checkpoint(args.checkpoint, args.tracking_uri), device)
    model.check_store(scans.store)
    if model.data_cfg.exclude_warm_focal_plane:
        bands = model.data_cfg.input_bands
        scans = scans.without(D.decided_by_rank_0(lambda: warm_scans(scans, bands)))
    band = blend.band_of(args)
    layout = D.decided_by_rank_0(lambda: RangeLayout.of(model, scans, args.latlon, band))
    request = shards.Request.of(
        _identity(args.checkpoint, model), scans, args.batch_size, args.latlon, band
    )
    netcdf = args.output.suffix == ".nc"
    partial = args.output.with_name(f".{args.output.name}.partial" + (".zarr" if netcdf else ""))
    lock = outputs.Lock(args.output, "--output")
    frames = animation.frames_dir(args.animation) if args.animation else None
    error = None
    if D.rank() == 0:
        try:
            _start(args, lock, partial, model, scans, layout, request)
            if frames is not None:
                animation.start_frames(frames)
        except UsageError as err:
            lock.release()
            error = str(err)
    error = D.broadcast_object(error)
    if error:
        raise UsageError(error)
    try:
        t0 = time.perf_counter()
        shards.write_shards(model, scans, layout, partial, args.batch_size)
        predicting = time.perf_counter() - t0
        if frames is not None:  # each rank its own shards' frames, one at a time
            animation.draw_shards(
                partial, scans, args.batch_size, frames, D.rank(), D.world_size(), args.blend
            )
        D.barrier()
        if D.rank() == 0:
            shards.finish(partial)
            if netcdf:
                replace_with(args.output, zarr_to_netcdf(partial))
                outputs.remove(partial, is_prediction)
            else:
                outputs.remove(args.output, is_prediction)
                os.replace(partial, args.output)
            print(
                f"wrote {args.output} ({len(scans.index)} scan(s), {iso(scans.time[0])} .. "
                f"{iso(scans.time[-1])}; {D.world_size()} rank(s), {predicting:.1f} s predicting)"
            )
            if frames is not None:
                n = len(scans.index)
                replace_with(
                    args.animation, animation.encoder(frames, n, args.animation.suffix.lower())
                )
                animation.remove_frames(frames)
                print(animation.describe(args.animation, n))
        D.leave()
    except KeyboardInterrupt:
        if D.rank() == 0:
            print(f"interrupted: {partial} kept; the same command resumes it", file=sys.stderr)
        raise
    finally:
        lock.release()


def _start(args, lock, partial, model, scans, layout, request) -> None:
    """Rank 0: take the output, then resume the partial store of this same request or start
    a new one (a partial store of another request is ours, and replaced)."""
    lock.acquire()
    outputs.check_replaceable(args.output, "--output", args.overwrite, is_prediction)
    if shards.resumable(partial, request):
        done = shards.done_marks(partial)
        shards.lay_out_marks(partial, done, D.world_size(), request)
        print(
            f"resuming {partial}: {int(done.sum())} of {done.size} shard(s) done", file=sys.stderr
        )
        return
    outputs.check_replaceable(partial, "--output", True, is_prediction)
    outputs.remove(partial, is_prediction)
    shards.write_template(partial, model, scans, layout, request)


def _identity(checkpoint: str, model: Translator) -> str:
    """The model a partial store was started with: the path or URI as given (a downloaded
    model's folder differs every time) and the training step it holds."""
    path = Path(checkpoint)
    where = str(path.resolve()) if path.exists() else checkpoint
    return f"{where}@step{model.meta.get('step', '?')}"


def _join_ranks(device: str) -> str:
    """Under a launcher: the process group (gloo on CPUs, NCCL on GPUs, one GPU per local
    rank); on CPUs each rank takes its share of the cores unless OMP_NUM_THREADS says."""
    world = detect()
    if world.size == 1:
        return device
    device = setup(world, engines=False)
    if device == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // world.local_size))
    return device


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.predict",
        description=__doc__.splitlines()[0],
        parents=[model_flags()],
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--archive", type=Path, help="ABI-L1b-Rad*/YYYY/JJJ/HH tree (one scan)")
    source.add_argument("--store", type=Path, help="a preprocessed Zarr store (a time range)")
    p.add_argument("--time", help="with --archive: scan start, e.g. 2019-12-01T10:27 (UTC)")
    p.add_argument(
        "--satellite",
        default=default(ArchiveSelection, "satellite"),
        choices=SATELLITE_CHOICES,
        help=f"with --archive: {satellite_help()}",
    )
    p.add_argument(
        "--sector",
        default=default(ArchiveSelection, "sector"),
        choices=SECTORS,
        help="with --archive (default %(default)s)",
    )
    p.add_argument("--start", help="with --store: first scan start, inclusive (UTC)")
    p.add_argument(
        "--end",
        help="with --store: last scan start, inclusive at the precision given (08:00 takes the "
        "scan of 08:00:27; UTC)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="scans per forward pass (--store; default %(default)s)",
    )
    blend.add_flags(p)
    p.add_argument(
        "--output",
        type=Path,
        required=True,
        help="out.nc (one scan), or out.zarr or out.nc (a range)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an earlier output of predict")
    p.add_argument("--png", type=Path, help="also write a quicklook PNG (one scan)")
    p.add_argument(
        "--animation",
        type=Path,
        help="with --store: also write the range as an animation, night.mp4 or night.gif",
    )
    p.add_argument("--latlon", action="store_true", help="add lat/lon variables")
    return p


def _check_flags(args: argparse.Namespace) -> None:
    """Each source with its own time flags; an earlier output replaced only with --overwrite,
    anything else never (checked before the model loads, and again as it is replaced)."""
    if args.archive is not None and (args.time is None or args.start or args.end):
        raise UsageError("--archive takes --time (one scan), not --start/--end")
    if args.store is not None and (args.start is None or args.end is None or args.time):
        raise UsageError("--store takes --start and --end (a range), not --time")
    blend.band_of(args)
    if args.archive is not None and detect().size > 1:
        raise UsageError("--archive predicts one scan, in one process: start it without a launcher")
    outputs.check_replaceable(args.output, "--output", args.overwrite, is_prediction)
    if args.png is not None:
        outputs.check_replaceable(args.png, "--png", args.overwrite, is_quicklook)
    if args.animation is not None:
        if args.store is None:
            raise UsageError("--animation draws a range: use it with --store/--start/--end")
        animation.check_path(args.animation)
        outputs.check_replaceable(
            args.animation, "--animation", args.overwrite, animation.is_animation
        )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def body() -> int:
        _check_flags(args)
        if args.store is not None:
            run_range(args)
        else:
            run_scan(args)
        return 0

    # a UsageError, or a checkpoint's settings that cannot serve (pydantic's ValueError);
    # every rank meets it: one line for the job
    return exit_code(body, speaks=lambda: detect().is_main, catch=(ValueError,))
