"""``predict --store --animation``: the range as an mp4 or gif, read back with imageio (the
library that wrote it): one frame per scan, in time order, the frame size promised, as a gif
drawn by one rank and as an mp4 drawn by two (real mpiexec)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hpc_vqvae.predict import animation
from hpc_vqvae.predict.maplines import Frame
from hpc_vqvae.predict.quicklook import Scene
from hpc_vqvae.world import free_port
from tests.helpers.training import train_env

pytestmark = [pytest.mark.slow, pytest.mark.deepspeed]

RANGE = ["--start", "2020-05-01", "--end", "2020-05-02", "--batch-size", "3"]  # 8 scans
WIDTH, HEIGHT = animation.FRAME_PX


def _cmd(trained, out: Path, movie: Path) -> list[str]:
    args = ["--checkpoint", trained.run_dir, "--store", trained.store, *RANGE, "--output", out]
    args += ["--animation", movie]
    return [sys.executable, "-m", "hpc_vqvae.predict", *map(str, args)]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = train_env(MASTER_PORT=str(free_port()))
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


def _frames(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    plugin = "pillow" if path.suffix == ".gif" else "FFMPEG"
    return np.stack([f[..., :3] for f in iio.imiter(path, plugin=plugin)])


def _frame_seconds(path: Path) -> float:
    """How long each frame shows, as the file says."""
    import imageio.v3 as iio

    if path.suffix == ".gif":
        return iio.immeta(path, index=0, plugin="pillow")["duration"] / 1000.0
    return 1.0 / iio.immeta(path, plugin="FFMPEG")["fps"]


def _drawn(ds: xr.Dataset, k: int, folder: Path) -> np.ndarray:
    """Frame ``k`` as drawn straight from the output store's scan ``k``."""
    import imageio.v3 as iio

    from hpc_vqvae.abi.projection import FixedGridProjection

    proj = FixedGridProjection.from_attrs(ds["goes_imager_projection"].attrs)
    scan = ds.isel(time=k)
    frame = Frame(scan.fixed_grid_x.values, scan.fixed_grid_y.values, proj)
    scene = Scene("G17", "M1", scan.time.values, frame)
    path = folder / f"{k}.png"
    animation.draw_frame(path, scene, np.stack([scan[c].values for c in "RGB"]))
    return iio.imread(path)[..., :3]


@pytest.fixture(scope="module")
def one_rank(trained, tmp_path_factory) -> dict[str, Path]:
    """The range as a gif, drawn by one rank."""
    root = tmp_path_factory.mktemp("anim1")
    out, movie = root / "night.zarr", root / "night.gif"
    proc = _run(_cmd(trained, out, movie))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"animation {movie} (8 frame(s), {WIDTH}x{HEIGHT}" in proc.stdout
    return {"out": out, "movie": movie}


@pytest.fixture(scope="module")
def two_ranks(trained, tmp_path_factory, mpiexec) -> dict[str, Path]:
    """The same range as an mp4, drawn by two ranks (real mpiexec), each its own shards."""
    root = tmp_path_factory.mktemp("anim2")
    out, movie = root / "night.zarr", root / "night.mp4"
    proc = _run([mpiexec, "-n", "2", *_cmd(trained, out, movie)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 rank(s)" in proc.stdout
    assert f"animation {movie} (8 frame(s), {WIDTH}x{HEIGHT}" in proc.stdout
    return {"out": out, "movie": movie}


@pytest.mark.parametrize("made_by", ["one_rank", pytest.param("two_ranks", marks=pytest.mark.mpi)])
def test_one_frame_per_scan_in_time_order(made_by, request, tmp_path):
    made = request.getfixturevalue(made_by)
    frames = _frames(made["movie"])
    assert frames.shape == (8, HEIGHT, WIDTH, 3)
    # 8 scans play at 4 frames/s, not 6: a short range's loop lasts 2 s
    assert _frame_seconds(made["movie"]) == pytest.approx(0.25, abs=0.005)
    assert animation.is_animation(made["movie"])
    written = sorted(p.name for p in made["out"].parent.iterdir())
    assert written == sorted([made["out"].name, made["movie"].name])  # no frames left behind
    with xr.open_zarr(made["out"]) as ds:
        assert ds.sizes["time"] == 8
        drawn = np.stack([_drawn(ds, k, tmp_path) for k in range(8)]).astype(np.float32)
    # each frame is closest to the drawing of its own scan (lossy codecs: not equal); on two
    # ranks this is the check that the shards (three scans each) were put back in time order
    distance = np.abs(frames[:, None].astype(np.float32) - drawn[None]).mean(axis=(2, 3, 4))
    assert (distance.argmin(axis=1) == np.arange(8)).all(), distance.round(1)
    others = np.where(np.eye(8, dtype=bool), np.inf, distance).min(axis=1)
    assert (np.diag(distance) < others / 2).all(), distance.round(1)  # (noisy: 3-step model)


def test_bad_animations_are_one_line(trained, one_rank, tmp_path, capsys, monkeypatch):
    from hpc_vqvae.predict import main

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "x.zarr"
    base = ["--checkpoint", trained.run_dir, "--store", trained.store, *RANGE, "--output", out]
    theirs = tmp_path / "holiday.mp4"
    theirs.write_bytes(one_rank["movie"].read_bytes()[:100])  # not a file predict wrote
    scan = ["--checkpoint", trained.run_dir, "--archive", tmp_path, "--time", "2019-12-01T10:27"]
    cases = {
        "written as *.mp4 or *.gif": [*base, "--animation", tmp_path / "x.avi"],
        "did not write": [*base, "--animation", theirs, "--overwrite"],
        "pass --overwrite": [*base, "--animation", one_rank["movie"]],
        "draws a range": [*scan, "--output", tmp_path / "x.nc", "--animation", "a.gif"],
    }
    for expected, argv in cases.items():
        assert main([str(a) for a in argv]) == 2, expected
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and len(theirs.read_bytes()) == 100
