"""The fetch, top to bottom: check the buckets, list the hour folders, keep what is wanted and
not already here, copy the rest concurrently, and report."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from .. import outputs
from ..errors import UsageError
from .config import FetchConfig
from .plan import Prefix, Remote, bucket, prefixes, satellites_of, select
from .transfer import Copied, Manifest, copy, is_complete

DEFAULT_ENDPOINT = "https://s3.amazonaws.com"
CHECK_CHUNK = 4096  # local files checked per thread-pool task


def endpoint() -> str:
    """Where requests go: the standard ``AWS_ENDPOINT_URL`` (any S3-compatible store), else
    AWS, where NOAA's buckets are (us-east-1)."""
    return os.environ.get("AWS_ENDPOINT_URL", DEFAULT_ENDPOINT)


def connect():
    """Anonymous S3 (NOAA's buckets are public): no account, no credentials looked up."""
    import s3fs

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return s3fs.S3FileSystem(
        anon=True,
        skip_instance_cache=True,
        use_listings_cache=False,  # ls caches every listing, even refreshed: years are GBs
        config_kwargs={
            "connect_timeout": 10,
            "read_timeout": 60,
            "retries": {"max_attempts": 3, "mode": "standard"},
        },
    )


def _unreachable(err: Exception) -> UsageError:
    first = str(err).splitlines()[0][:200] if str(err) else ""
    return UsageError(f"cannot reach S3 at {endpoint()} ({type(err).__name__}: {first})")


def check_buckets(fs, satellites) -> None:
    """Each bucket answers: a one-line error for a missing bucket or no connection at all."""
    for satellite in satellites:
        name = bucket(satellite)
        try:
            fs.ls(name, refresh=True)
        except FileNotFoundError:
            raise UsageError(f"s3://{name}: no such bucket at {endpoint()}") from None
        except Exception as err:  # noqa: BLE001 (botocore, aiohttp and socket errors alike)
            raise _unreachable(err) from None


def _listing(fs, prefix: Prefix) -> list[dict]:
    try:
        return fs.ls(prefix.path, detail=True, refresh=True)
    except FileNotFoundError:  # an hour without files: a gap in the archive
        return []


def list_wanted(fs, cfg: FetchConfig) -> tuple[list[Remote], int]:
    """(wanted objects, hour folders listed), listed concurrently with a progress bar."""
    hours = prefixes(cfg)
    found: list[Remote] = []
    with _bar(len(hours), "list", "hour") as bar:
        for prefix, listing in _listings(fs, hours, cfg.workers):
            found += select(prefix, listing, cfg)
            bar.update()
    return sorted(found, key=lambda r: r.key), len(hours)


def _listings(fs, hours: list[Prefix], workers: int) -> Iterator[tuple[Prefix, list[dict]]]:
    """Each hour's listing as it completes, with at most ``2 * workers`` hours in flight. All at
    once, the listing threads outrun the one thread that selects (they share the GIL), and
    the done listings pile up: about 1 MB a meso hour, gigabytes over years."""
    todo = iter(hours)
    with ThreadPoolExecutor(workers) as pool:
        running = {pool.submit(_listing, fs, p): p for p in islice(todo, 2 * workers)}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                prefix = running.pop(future)
                try:
                    listing = future.result()
                except Exception as err:  # noqa: BLE001
                    raise _unreachable(err) from None
                yield prefix, listing
                for nxt in islice(todo, 1):
                    running[pool.submit(_listing, fs, nxt)] = nxt


def run(cfg: FetchConfig, backoff_s: float = 1.0) -> dict:
    """Copy what ``cfg`` selects into ``cfg.dest``; returns the report."""
    t0 = time.perf_counter()
    fs = connect()
    satellites = satellites_of(cfg)
    check_buckets(fs, satellites)
    wanted, n_hours = list_wanted(fs, cfg)
    if not wanted:
        raise UsageError(
            f"nothing in s3://{'|'.join(bucket(s) for s in satellites)} at {endpoint()} matched "
            f"--satellite {cfg.satellite} --sector {cfg.sector} --bands {','.join(cfg.bands)} "
            f"over {len(cfg.days())} day(s) ({n_hours} hour folders)"
        )
    cfg.dest.mkdir(parents=True, exist_ok=True)
    with outputs.Lock(cfg.dest, "--dest"):
        return _copy_all(fs, cfg, wanted, satellites, n_hours, t0, backoff_s)


@dataclass
class Decision:
    """What a (re)run does with the wanted objects, before it copies anything."""

    manifest: Manifest
    here: int  # already complete
    theirs: list[Remote]  # a different file that fetch did not write: left alone
    todo: list[Remote]  # missing, or an incomplete copy of ours


def decide(cfg: FetchConfig, wanted: list[Remote]) -> Decision:
    """Each wanted object against its local file and the manifest. Checked in chunks on a
    thread pool (stat calls wait on the file system; one task per file would cost more in
    the pool than the stat: five years are 1.58M files)."""
    manifest = Manifest(cfg.dest)

    def complete(chunk: list[Remote]) -> list[bool]:
        return [is_complete(r, cfg.dest / r.relative, manifest, cfg.verify) for r in chunk]

    chunks = [wanted[i : i + CHECK_CHUNK] for i in range(0, len(wanted), CHECK_CHUNK)]
    with ThreadPoolExecutor(cfg.workers) as pool:
        done = [flag for flags in pool.map(complete, chunks) for flag in flags]
    missing = [r for r, here in zip(wanted, done, strict=True) if not here]
    ours = [not (cfg.dest / r.relative).exists() or r.key in manifest.entries for r in missing]
    theirs = [r for r, mine in zip(missing, ours, strict=True) if not mine]
    todo = [r for r, mine in zip(missing, ours, strict=True) if mine]
    return Decision(manifest, len(wanted) - len(missing), theirs, todo)


def _copy_all(fs, cfg: FetchConfig, wanted, satellites, n_hours: int, t0: float, backoff_s) -> dict:
    """Copy what is missing or an incomplete copy of ours; a different file that fetch did not
    write (not in the manifest) is left as it is and reported."""
    plan = decide(cfg, wanted)
    manifest, theirs, todo = plan.manifest, plan.theirs, plan.todo
    local = {r.key: cfg.dest / r.relative for r in todo}
    failed: list[dict] = []
    total = sum(r.size for r in todo)
    with ThreadPoolExecutor(cfg.workers) as pool, _bar(total, "fetch", "B", scale=True) as bar:
        futures = {
            pool.submit(copy, fs.get_file, r, local[r.key], cfg.retries, backoff_s): r for r in todo
        }
        for n, future in enumerate(as_completed(futures), start=1):
            remote = futures[future]
            try:
                future.result()
                manifest.add(Copied.of(remote, local[remote.key]))
            except Exception as err:  # noqa: BLE001 (retried already: report, go on)
                failed.append({"key": remote.key, "error": f"{type(err).__name__}: {err}"[:300]})
            bar.update(remote.size)
            bar.set_postfix_str(f"{n}/{len(todo)} files", refresh=False)
    seconds = time.perf_counter() - t0
    copied = [r for r in todo if r.key not in {f["key"] for f in failed}]
    return {
        "dest": str(cfg.dest),
        "endpoint": endpoint(),
        "satellites": {s: [str(a), str(b)] for s, (a, b) in satellites.items()},
        "hour_folders": n_hours,
        "matched": len(wanted),
        "already_here": plan.here,
        "left_alone": [str(r.relative) for r in theirs],
        "copied": len(copied),
        "bytes_copied": sum(r.size for r in copied),
        "failed": failed,
        "seconds": seconds,
        "files_by_satellite": dict(Counter(Path(r.key).name.split("_")[2] for r in wanted)),
    }


def _bar(total: int, desc: str, unit: str, scale: bool = False) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=scale, file=sys.stderr, smoothing=0)


def summary_lines(report: dict) -> list[str]:
    mb = report["bytes_copied"] / 1e6
    rate = mb / report["seconds"] if report["seconds"] > 0 else 0.0
    sats = ", ".join(f"{s} {a}..{b}" for s, (a, b) in report["satellites"].items())
    lines = [
        f"matched {report['matched']} files in {report['hour_folders']} hour folders ({sats}); "
        f"{report['already_here']} already here, copied {report['copied']} "
        f"({mb:.1f} MB, {rate:.1f} MB/s) into {report['dest']}",
    ]
    if report["left_alone"]:
        lines.append(
            f"{len(report['left_alone'])} file(s) differ from the bucket but were not written by "
            f"fetch, so were left as they are (first: {report['left_alone'][0]}); move them away "
            "to fetch them"
        )
    if report["failed"]:
        first = report["failed"][0]
        lines.append(
            f"{len(report['failed'])} file(s) failed after retries (first: {first['key']}: "
            f"{first['error']}); rerun the same command to fetch them"
        )
    return lines
