"""Fetch throughput: one transfer at a time against N concurrent ones, from a real S3 server on
loopback (moto's, started through tests/s3_server.py) holding synthetic L1b files.

    python benchmarks/fetch_throughput.py [--scans 34] [--workers 1 4 16] [--repeat 3]
        [--rtt-ms 0 30]

34 meso scans of the six default bands are 204 files (~6.3 MB a scan). Each round fetches the
whole bucket into an empty folder once per worker count (rounds interleave them, so a slow
spell hits every row); the table shows the best and the median of the rounds, and each
count's speed-up over one transfer.

Loopback has no network latency: with ``--rtt-ms 0`` the figures measure only the client's and
the server's per-request work, which share this machine's cores. ``--rtt-ms 30`` puts a proxy
on loopback in front of the server that holds each request for 30 ms before passing it on,
as a round trip to NOAA's us-east-1 buckets from a cluster elsewhere would: the latency that
concurrent transfers are there to hide.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
from hpc_vqvae.fetch.config import load_config
from hpc_vqvae.fetch.job import run

REPO = Path(__file__).resolve().parents[1]


def server(root: Path, action: str) -> str:
    """The project's S3 test server (``python -m tests.s3_server``); returns its endpoint."""
    cmd = [sys.executable, "-m", "tests.s3_server", action, str(root)]
    out = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return out.strip().rpartition("=")[2]


def delaying_proxy(upstream: str, rtt_s: float) -> str:
    """A TCP proxy on loopback that holds every chunk the client sends (each request) for
    ``rtt_s`` before passing it on; returns its URL. Runs in a daemon thread."""
    host, port = upstream.removeprefix("http://").split(":")
    loop = asyncio.new_event_loop()

    async def pipe(reader, writer, delay: float) -> None:
        try:
            while chunk := await reader.read(1 << 16):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()

    async def handle(client_r, client_w) -> None:
        server_r, server_w = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(client_r, server_w, rtt_s), pipe(server_r, client_w, 0.0))

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def fill(url: str, tree: Path) -> int:
    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    s3.create_bucket(Bucket="noaa-goes17")
    files = sorted(tree.rglob("*.nc"))
    for path in files:
        key = path.relative_to(tree).as_posix()
        s3.put_object(Bucket="noaa-goes17", Key=key, Body=path.read_bytes(), ACL="public-read")
    return len(files)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scans", type=int, default=34)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0, 30.0])
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        start = datetime(2020, 6, 1)
        spec = ArchiveSpec(root=tmp / "src", start=start,
                           end=start + timedelta(minutes=10 * args.scans - 1),
                           every=timedelta(minutes=10))  # fmt: skip
        write_archive(spec)
        url = server(tmp / "server", "up")
        try:
            n_files = fill(url, tmp / "src")
            endpoints = {
                rtt: delaying_proxy(url, rtt / 1000) if rtt else url for rtt in args.rtt_ms
            }
            times = {(r, w): [] for r in args.rtt_ms for w in args.workers}
            mb = 0.0
            for _ in range(args.repeat):
                for rtt, workers in times:
                    os.environ["AWS_ENDPOINT_URL"] = endpoints[rtt]
                    dest = tmp / f"dest{workers}"
                    cfg = load_config({"dest": dest, "satellite": "G17", "start": "2020-06-01",
                                       "end": "2020-06-01", "workers": workers})  # fmt: skip
                    t0 = time.perf_counter()
                    report = run(cfg)
                    times[rtt, workers].append(time.perf_counter() - t0)
                    assert report["copied"] == n_files and not report["failed"]
                    mb = report["bytes_copied"] / 1e6
                    shutil.rmtree(dest)
        finally:
            server(tmp / "server", "down")
    print(f"\n{n_files} files, {mb:.0f} MB, {args.repeat} rounds; best (median)")
    print(f"{'RTT ms':>6}  {'transfers':>9}  {'files/s':>15}  {'MB/s':>15}  {'speed-up':>15}")
    for (rtt, workers), ts in times.items():
        one = times[rtt, args.workers[0]]
        best, med = min(ts), statistics.median(ts)
        up, up_med = min(one) / best, statistics.median(one) / med
        print(
            f"{rtt:>6.0f}  {workers:>9}  {n_files / best:>7.1f} ({n_files / med:>5.1f})  "
            f"{mb / best:>7.1f} ({mb / med:>5.1f})  {up:>7.2f}x ({up_med:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
