"""``python -m hpc_vqvae.demo`` (what ``make demo`` runs): the whole pipeline on a small
embedded default, with the same commands a user types, each printed before it runs.

1. a synthetic GOES-17 M1 archive: four days in each of 2019 and 2020, a scan every 4 h;
2. ``mpiexec -n 2 python -m hpc_vqvae.preprocess --years 2019-2020`` into a Zarr store;
3. ``python -m hpc_vqvae.launch --local`` with 2 processes: the tiny config, DeepSpeed ZeRO-2
   on CPU, MLflow in a local SQLite file;
4. ``python -m hpc_vqvae.predict`` on one synthetic night scan, with a quicklook PNG;
5. ``predict`` on a night of the store as an animation, and on a dusk scan with ``--blend``
   (observed visible by day, synthetic by night), with its quicklook;
6. ``python -m hpc_vqvae.evaluate`` on the held-out test days: the model beside a
   least-squares and an inverted-IR baseline.

``--pictures DIR`` then writes the README's pictures (the quicklook and the blended dusk,
made smaller) into DIR: ``python -m hpc_vqvae.demo --pictures docs`` regenerates them.

A second run reuses every stage whose output is complete.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .cli import exit_code
from .errors import UsageError
from .tracking import DEFAULT_DB, SQLITE, runs_link

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny.yaml"
NIGHT_SCAN = "2020-06-04T08:00"  # around local midnight under the M1 sector
NIGHT_RANGE = ("2020-06-04T04:00", "2020-06-04T12:00")  # dusk to before dawn: 3 scans
DUSK_SCAN = "2020-06-04T02:45"  # the terminator crosses the sector: solar zenith ~80-92 deg
# The README's pictures (python -m hpc_vqvae.demo --pictures docs): demo output -> docs name
PICTURES = {"night.png": "demo-quicklook.png", "dusk.png": "demo-dusk-blend.png"}
SYNTH = "python -m hpc_vqvae.synth --archive {archive} --satellite G17 --sector M1 --every 4h"

# The pipeline as a user types it: (title, what exists once the stage is done, commands).
# Fields in braces are the demo's folders and options (see ``main``).
STAGES = (
    (
        "synthetic ABI L1b archive",
        "{archive}/.complete",
        [
            f"{SYNTH} --start 2019-06-01 --end 2019-06-04",
            f"{SYNTH} --start 2020-06-01 --end 2020-06-04",
            # the dusk quarter hours, in a folder of their own (not in the store)
            "python -m hpc_vqvae.synth --archive {out}/abi-dusk --satellite G17 --sector M1 "
            f"--every 15min --hours {DUSK_SCAN[11:13]} --start {DUSK_SCAN[:10]} "
            f"--end {DUSK_SCAN[:10]}",
        ],
    ),
    (
        "preprocessing on {ranks} MPI ranks",
        "{out}/.preprocessed",
        [
            "mpiexec -n {ranks} python -m hpc_vqvae.preprocess --archive {archive} "
            "--output {store} --years 2019-2020"
        ],
    ),
    (
        "training, {ranks} local processes, ZeRO-2",
        "{run_dir}/generator/model.safetensors",
        [
            "python -m hpc_vqvae.launch --config {tiny} --local "
            "--tasks-per-node {ranks} --run-dir {run_dir} --folder {out}/logs/submitit "
            "data.store={store} train.zero_stage=2 train.tracking_uri={tracking}{steps}"
        ],
    ),
    (
        f"synthetic visible imagery for the night scan {NIGHT_SCAN}",
        None,  # always runs
        [
            "python -m hpc_vqvae.predict --checkpoint {run_dir} --archive {archive} "
            f"--time {NIGHT_SCAN} --output {{out}}/night.nc --png {{out}}/night.png "
            "--overwrite"  # an earlier demo's (predict replaces nothing else)
        ],
    ),
    (
        f"the night {NIGHT_RANGE[0]} .. {NIGHT_RANGE[1]} as a loop, and the dusk scan {DUSK_SCAN} "
        "observed by day and synthetic by night",
        None,  # always runs
        [
            "python -m hpc_vqvae.predict --checkpoint {run_dir} --store {store} "
            f"--start {NIGHT_RANGE[0]} --end {NIGHT_RANGE[1]} --output {{out}}/night.zarr "
            "--animation {out}/night.mp4 --overwrite",
            "python -m hpc_vqvae.predict --checkpoint {run_dir} --archive {out}/abi-dusk "
            f"--time {DUSK_SCAN} --blend --output {{out}}/dusk.nc --png {{out}}/dusk.png "
            "--overwrite",
        ],
    ),
    (
        "scores on the held-out test days (synthetic data: a check of the pipeline)",
        None,  # always runs
        [
            "python -m hpc_vqvae.evaluate --checkpoint {run_dir} --store {store} "
            "--plot {out}/evaluation.png"
        ],
    ),
)


class DemoError(RuntimeError):
    """A stage failed (its command is in the message)."""


def run(line: str, cwd: Path, mpiexec: str) -> None:
    """Show the command as a user types it, then run it with its output on the console."""
    print(f"$ {line}", flush=True)
    programs = {"python": sys.executable, "mpiexec": mpiexec}
    argv = [programs.get(word, word) for word in shlex.split(line)]
    if subprocess.run(argv, cwd=cwd).returncode != 0:
        raise DemoError(f"stage failed: {line}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.demo", description=__doc__.splitlines()[0]
    )
    p.add_argument("--dir", type=Path, default=Path("demo"), help="where everything goes")
    p.add_argument("--ranks", type=int, default=2, help="MPI ranks and training processes")
    p.add_argument("--max-steps", type=int, help="training steps (default: the tiny config's)")
    p.add_argument("--pictures", type=Path, help="also write the README's pictures here (docs)")
    args = p.parse_args(argv)
    return exit_code(lambda: _demo(args))


def _demo(args: argparse.Namespace) -> int:
    out = args.dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        raise UsageError("mpiexec not on PATH (make demo puts the venv's first)")
    fields = {
        "out": out,
        "archive": out / "abi",
        "store": out / "abi.zarr",
        "run_dir": out / "runs" / "tiny",
        "tracking": f"{SQLITE}{out}/{DEFAULT_DB}",  # one database for the demo
        "tiny": TINY,
        "ranks": args.ranks,
        "steps": f" train.max_steps={args.max_steps}" if args.max_steps else "",
    }
    quoted = {k: v if k == "steps" else shlex.quote(str(v)) for k, v in fields.items()}
    t0 = time.monotonic()
    try:
        for n, (title, marker, commands) in enumerate(STAGES, start=1):
            done = marker is not None and Path(marker.format(**fields)).exists()
            reuse = " (done before, reusing it)" if done else ""
            print(f"\n[{n}/{len(STAGES)}] {title.format(**fields)}{reuse}", flush=True)
            if not done:
                for line in commands:
                    run(line.format(**quoted), out, mpiexec)
                if marker is not None:
                    Path(marker.format(**fields)).touch()
    except DemoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    from .train.config import load_config  # here: it imports torch, seconds at the start

    tracking = fields["tracking"]
    experiment = load_config(TINY).train.experiment
    print(
        f"\ndemo done in {time.monotonic() - t0:.0f} s. Look at:\n"
        f"  quicklook (IR | synthetic visible)  {out / 'night.png'}\n"
        f"  the night as a loop                 {out / 'night.mp4'}\n"
        f"  dusk, observed by day + synthetic   {out / 'dusk.png'} ({out / 'dusk.nc'})\n"
        f"  the CF netCDF                       {out / 'night.nc'}\n"
        f"  scores by solar zenith              {out / 'evaluation.png'}\n"
        f"  the runs in the MLflow UI           {_runs_link(tracking, experiment)}\n"
        f"  the run in a table                  python -m hpc_vqvae.compare --experiment "
        f"{experiment} --tracking-uri {tracking}\n"
        f"  metrics, checkpoints, samples       {fields['run_dir']}",
        flush=True,
    )
    if args.pictures is not None:
        for path in pictures(out, args.pictures):
            print(f"  README picture                      {path}")
    return 0


def pictures(out: Path, folder: Path, width: int = 900) -> list[Path]:
    """The demo's quicklooks, made ``width`` px wide, as the README shows them."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, target in PICTURES.items():
        with Image.open(out / name) as im:
            small = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
            # a 256-colour palette: a third of the bytes, the same picture at this size
            small.convert("RGB").quantize(256).save(folder / target, optimize=True)
        written.append(folder / target)
    return written


def _runs_link(uri: str, experiment: str) -> str:
    """``tracking.runs_link`` for the demo's experiment (its database exists once training
    has run): the ``mlflow ui`` command, and the page of the runs to open."""
    from .tracking import client

    exp = client(uri).get_experiment_by_name(experiment)
    return runs_link(uri, exp.experiment_id) if exp else f"mlflow ui --backend-store-uri {uri}"


if __name__ == "__main__":
    sys.exit(main())
