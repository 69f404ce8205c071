"""``python -m hpc_vqvae.synth``: write a synthetic ABI L1b archive (the embedded default data).

Example: ``python -m hpc_vqvae.synth --archive data/abi --start 2019-01-01 --end 2020-12-31
--every 6h`` writes scans of C01, C02, C03, C11, C13, C14 for GOES-17 meso sector M1 in the
NOAA layout ``ABI-L1b-RadM/YYYY/JJJ/HH/``. A rerun completes what is missing.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from tqdm import tqdm

from .abi.bands import band_number
from .abi.names import MODES, SATELLITES, SECTORS
from .abi.selection import parse_every, parse_hours
from .abi.synthetic import DEFAULT_BANDS, WEATHER, ArchiveSpec, write_archive


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r}: expected YYYY-MM-DD") from None


def _bands(text: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({band_number(b) for b in text.split(",") if b.strip()}))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _wrap(parse):
    def inner(text: str):
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    inner.__name__ = parse.__name__
    return inner


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.synth", description=__doc__.splitlines()[0]
    )
    p.add_argument("--archive", type=Path, required=True, help="root of the archive tree to write")
    p.add_argument("--start", type=_day, required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--end", type=_day, required=True, help="last day (inclusive), YYYY-MM-DD")
    p.add_argument("--satellite", default="G17", choices=SATELLITES)
    p.add_argument("--sector", default="M1", choices=SECTORS)
    p.add_argument("--mode", type=int, default=6, choices=MODES, help="ABI scan mode (default 6)")
    p.add_argument(
        "--every",
        type=_wrap(parse_every),
        default=None,
        help="cadence, e.g. 5min, 1h (default: the sector's own)",
    )
    p.add_argument(
        "--hours",
        type=_wrap(parse_hours),
        default=None,
        help="UTC hours to keep, e.g. 18-21 (inclusive)",
    )
    p.add_argument(
        "--bands",
        type=_bands,
        default=DEFAULT_BANDS,
        help="comma-separated bands (default C01,C02,C03,C11,C13,C14)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--weather",
        choices=WEATHER,
        default="fresh",
        help="fresh: new clouds every scan; persistent: cloud systems that drift and evolve "
        "over days, shared by neighbouring days as real weather is",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.end < args.start:
        parser().error(f"--end {args.end} is before --start {args.start}")
    spec = ArchiveSpec(
        root=args.archive,
        start=datetime.combine(args.start, datetime.min.time()),
        end=datetime.combine(args.end, datetime.min.time()) + timedelta(days=1, microseconds=-1),
        satellite=args.satellite,
        sector=args.sector,
        mode=args.mode,
        bands=args.bands,
        every=args.every,
        hours=tuple(args.hours) if args.hours else None,
        seed=args.seed,
        weather=args.weather,
    )
    try:
        n_scans = len(spec.scan_starts())
    except ValueError as err:
        parser().error(str(err))
    t0 = time.perf_counter()
    bar = lambda xs: tqdm(xs, total=n_scans, unit="scan", desc="synthetic ABI", file=sys.stderr)  # noqa: E731
    files = write_archive(spec, progress=bar)
    took = time.perf_counter() - t0
    print(f"{n_scans} scans ({len(files)} files) under {args.archive} in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
