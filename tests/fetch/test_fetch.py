"""``python -m hpc_vqvae.fetch`` against a real S3 server on loopback (tests/s3_server.py): the
exact selection across the GOES-West handover, byte identity, resume, repair, a killed run,
and the one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpc_vqvae.abi.names import parse_name
from hpc_vqvae.fetch.transfer import MANIFEST
from hpc_vqvae.world import free_port

pytestmark = pytest.mark.slow

WEST = ["--satellite", "west", "--start", "2023-01-02", "--end", "2023-01-05"]


def fetch_cmd(dest: Path, *args) -> list[str]:
    return [sys.executable, "-m", "hpc_vqvae.fetch", "--dest", str(dest), *map(str, args)]


def _env(url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "AWS_ENDPOINT_URL": url, "PYTHONUNBUFFERED": "1"}


def fetch(buckets, dest: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    cmd = fetch_cmd(dest, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(buckets.url), timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def local_files(dest: Path) -> dict[str, Path]:
    return {p.relative_to(dest).as_posix(): p for p in dest.rglob("*.nc")}


def expected(buckets, pick) -> dict[str, Path]:
    """The source files ``pick(name)`` selects, by their path in the bucket layout."""
    out = {}
    for tree in buckets.source.values():
        for path in tree.rglob("*.nc"):
            if pick(parse_name(path)):
                out[path.relative_to(tree).as_posix()] = path
    return out


def west(name) -> bool:
    """GOES-17 through 2023-01-03, GOES-18 from the handover on; M1; the six default bands."""
    day = name.start.date().isoformat()
    sat = "G17" if day < "2023-01-04" else "G18"
    in_span = "2023-01-02" <= day <= "2023-01-05"
    bands = {1, 2, 3, 11, 13, 14}
    return in_span and name.satellite == sat and name.sector == "M1" and name.band in bands


def test_west_across_the_handover_is_exact_and_byte_identical(buckets, tmp_path):
    dest = tmp_path / "abi"
    proc = fetch(buckets, dest, *WEST)
    want = expected(buckets, west)
    got = local_files(dest)
    assert sorted(got) == sorted(want) and len(want) == 4 * 2 * 6  # 4 days, 18 and 20 UTC
    for key, path in got.items():
        assert path.read_bytes() == want[key].read_bytes(), key
    assert {parse_name(p).satellite for p in got.values()} == {"G17", "G18"}
    assert f"copied {len(want)}" in proc.stdout and "G17 2023-01-02..2023-01-03" in proc.stdout
    assert "G18 2023-01-04..2023-01-05" in proc.stdout
    lines = [json.loads(x) for x in (dest / MANIFEST).read_text().splitlines()]
    assert sorted(x["path"] for x in lines) == sorted(want)
    assert all(x["key"].startswith(("noaa-goes17/", "noaa-goes18/")) for x in lines)
    assert "fetch" in proc.stderr and "B/s" in proc.stderr  # the progress bar: bytes and rate

    # a second run copies nothing and touches nothing
    before = {k: p.stat().st_mtime_ns for k, p in got.items()}
    again = fetch(buckets, dest, *WEST)
    assert f"{len(want)} already here, copied 0" in again.stdout
    assert {k: p.stat().st_mtime_ns for k, p in local_files(dest).items()} == before


def test_damaged_local_files_are_fetched_again(buckets, tmp_path):
    dest = tmp_path / "abi"
    fetch(buckets, dest, *WEST, "--hours", "18")
    files = local_files(dest)
    truncated, flipped = sorted(files.values())[:2]
    truncated.write_bytes(truncated.read_bytes()[:1000])
    data = bytearray(flipped.read_bytes())
    data[5000] ^= 0xFF
    flipped.write_bytes(bytes(data))  # same size: its recorded mtime no longer matches
    proc = fetch(buckets, dest, *WEST, "--hours", "18")
    assert f"{len(files) - 2} already here, copied 2" in proc.stdout
    want = expected(buckets, lambda n: west(n) and n.start.hour == 18)
    for key, path in local_files(dest).items():
        assert path.read_bytes() == want[key].read_bytes(), key

    # a different file at a wanted path that fetch did not write (a user's own copy) is kept
    later = sorted(expected(buckets, lambda n: west(n) and n.start.hour == 20))
    theirs = dest / later[0]
    theirs.parent.mkdir(parents=True, exist_ok=True)
    theirs.write_bytes(b"the user's own file")
    proc = fetch(buckets, dest, *WEST, check=False)
    assert proc.returncode == 1 and f"copied {len(later) - 1}" in proc.stdout
    assert f"not written by fetch, so were left as they are (first: {later[0]})" in proc.stdout
    assert theirs.read_bytes() == b"the user's own file"
    assert not dest.with_name("abi.lock").exists()


def test_filters_hours_cadence_bands_and_mode_3(buckets, tmp_path):
    dest = tmp_path / "abi"
    fetch(buckets, dest, *WEST, "--every", "240min", "--bands", "C13")  # 20:00 is 1200 min
    got = [parse_name(p) for p in local_files(dest).values()]
    assert len(got) == 4 and {(n.band, n.start.hour) for n in got} == {(13, 20)}
    old = tmp_path / "2019"
    fetch(buckets, old, "--satellite", "G17", "--start", "2019-03-30", "--end", "2019-04-01")
    modes = {parse_name(p).mode for p in local_files(old).values()}
    assert modes == {3} and len(local_files(old)) == 2 * 6  # Mode 3 names are taken


def test_killed_run_then_rerun_completes(buckets, tmp_path):
    dest = tmp_path / "abi"
    cmd = fetch_cmd(dest, *WEST, "--workers", "1")
    proc = subprocess.Popen(
        cmd, env=_env(buckets.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    manifest = dest / MANIFEST
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    done = len(local_files(dest))
    want = expected(buckets, west)
    assert 3 <= done < len(want)
    again = fetch(buckets, dest, *WEST)
    assert f"{done} already here, copied {len(want) - done}" in again.stdout
    got = local_files(dest)
    assert sorted(got) == sorted(want)
    assert all(got[k].read_bytes() == want[k].read_bytes() for k in want)
    assert not list(dest.rglob("*.part")), "no partial file left behind"


def test_errors_are_one_line(buckets, tmp_path):
    dest = tmp_path / "abi"
    cases = [
        (["--satellite", "G16", "--years", "2023"], "s3://noaa-goes16: no such bucket"),
        (["--satellite", "G17", "--years", "2021", "--hours", "3"], "nothing in s3://noaa-goes17"),
        (["--years", "2023", "--every", "7sec"], "--every"),
    ]
    for args, culprit in cases:
        proc = fetch(buckets, dest, *args, check=False)
        err = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and culprit in err[-1] and "Traceback" not in proc.stderr, (
            args,
            proc.stderr[-2000:],
        )
    closed = f"http://127.0.0.1:{free_port()}"
    cmd = fetch_cmd(dest, "--years", "2023")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(closed), timeout=120)
    assert proc.returncode == 2 and f"cannot reach S3 at {closed}" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not dest.exists(), "nothing written by a fetch that could not start"
