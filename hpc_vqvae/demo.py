"""``python -m hpc_vqvae.demo`` (what ``make demo`` runs): the whole pipeline on a small
embedded default, with the same commands a user types, each printed before it runs.

1. a synthetic GOES-17 M1 archive: four days in each of 2019 and 2020, a scan every 4 h;
2. ``mpiexec -n 2 python -m hpc_vqvae.preprocess --years 2019-2020`` into a Zarr store;
3. ``python -m hpc_vqvae.launch --local`` with 2 processes: the tiny config, DeepSpeed ZeRO-2
   on CPU, MLflow in a local SQLite file;
4. ``python -m hpc_vqvae.predict`` on one synthetic night scan, with a quicklook PNG.

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

REPO = Path(__file__).resolve().parents[1]
YEARS = ((2019, "2019-06-01", "2019-06-04"), (2020, "2020-06-01", "2020-06-04"))
NIGHT_SCAN = "2020-06-04T08:00"  # around local midnight under the M1 sector


class DemoError(RuntimeError):
    """A stage failed (its command is in the message)."""


def run(cmd: list[str], cwd: Path) -> None:
    """Show the command as a user would type it, then run it with its output on the console."""
    shown = [
        "python" if c == sys.executable else Path(c).name if c.endswith("mpiexec") else c
        for c in cmd
    ]
    print(f"$ {shlex.join(shown)}", flush=True)
    if subprocess.run(cmd, cwd=cwd).returncode != 0:
        raise DemoError(f"stage failed: {shlex.join(shown)}")


def stage(n: int, title: str, done: bool) -> bool:
    """Print the stage header; True when it has to run."""
    print(f"\n[{n}/4] {title}" + (" (done before, reusing it)" if done else ""), flush=True)
    return not done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.demo", description=__doc__.splitlines()[0]
    )
    p.add_argument("--dir", type=Path, default=Path("demo"), help="where everything goes")
    p.add_argument("--ranks", type=int, default=2, help="MPI ranks and training processes")
    p.add_argument("--max-steps", type=int, help="training steps (default: the tiny config's)")
    args = p.parse_args(argv)
    out = args.dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    archive, store, run_dir = out / "abi", out / "abi.zarr", out / "runs" / "tiny"
    tracking = f"sqlite:///{out}/mlflow.db"
    t0 = time.monotonic()
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        print("error: mpiexec not on PATH (make demo puts the venv's first)", file=sys.stderr)
        return 2
    try:
        if stage(1, "synthetic ABI L1b archive", (archive / ".complete").exists()):
            for _, first, last in YEARS:
                run(
                    [
                        py,
                        "-m",
                        "hpc_vqvae.synth",
                        "--archive",
                        str(archive),
                        "--start",
                        first,
                        "--end",
                        last,
                        "--satellite",
                        "G17",
                        "--sector",
                        "M1",
                        "--every",
                        "4h",
                    ],
                    out,
                )
            (archive / ".complete").touch()
        years = f"{YEARS[0][0]}-{YEARS[-1][0]}"
        if stage(2, f"preprocessing on {args.ranks} MPI ranks", (out / ".preprocessed").exists()):
            run(
                [
                    mpiexec,
                    "-n",
                    str(args.ranks),
                    py,
                    "-m",
                    "hpc_vqvae.preprocess",
                    "--archive",
                    str(archive),
                    "--output",
                    str(store),
                    "--years",
                    years,
                ],
                out,
            )
            (out / ".preprocessed").touch()
        trained = (run_dir / "generator.pt").exists()
        if stage(3, f"training, {args.ranks} local processes, ZeRO-2", trained):
            steps = [f"train.max_steps={args.max_steps}"] if args.max_steps else []
            run(
                [
                    py,
                    "-m",
                    "hpc_vqvae.launch",
                    "--config",
                    str(REPO / "configs" / "tiny.yaml"),
                    "--local",
                    "--tasks-per-node",
                    str(args.ranks),
                    "--run-dir",
                    str(run_dir),
                    "--folder",
                    str(out / "logs" / "submitit"),
                    f"data.store={store}",
                    "train.zero_stage=2",
                    f"train.tracking_uri={tracking}",
                    *steps,
                ],
                out,
            )
        nc, png = out / "night.nc", out / "night.png"
        stage(4, f"synthetic visible imagery for the night scan {NIGHT_SCAN}", False)
        run(
            [
                py,
                "-m",
                "hpc_vqvae.predict",
                "--checkpoint",
                str(run_dir),
                "--archive",
                str(archive),
                "--time",
                NIGHT_SCAN,
                "--output",
                str(nc),
                "--png",
                str(png),
            ],
            out,
        )
    except DemoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"\ndemo done in {time.monotonic() - t0:.0f} s. Look at:\n"
        f"  quicklook (IR | synthetic visible)  {png}\n"
        f"  the CF netCDF                       {nc}\n"
        f"  the MLflow UI                       mlflow ui --backend-store-uri {tracking}\n"
        f"  the run in a table                  python -m hpc_vqvae.compare --experiment "
        f"hpc-vqvae --tracking-uri {tracking}\n"
        f"  metrics, checkpoints, samples       {run_dir}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
