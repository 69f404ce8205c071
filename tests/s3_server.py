"""A real S3 server on loopback for the fetch tests: moto's standalone server (``moto_server``),
started and stopped by this tooling, with NOAA-like buckets of public-read objects.

    python -m tests.s3_server up DIR      # prints the AWS_ENDPOINT_URL to export
    python -m tests.s3_server down DIR

Objects are ``public-read``, as NOAA's are: anonymous clients (``s3fs.S3FileSystem(anon=True)``)
may list a bucket but not read a private object.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from hpc_vqvae.world import free_port
from tests.helpers.ports import listens


class S3Unavailable(RuntimeError):
    """moto's server cannot run here (the reason is the message)."""


class S3Server:
    """``moto_server -H 127.0.0.1 -p PORT`` in its own process group, its PID under ``root``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.pid_file = self.root / "moto.pid"
        self.port_file = self.root / "moto.port"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port_file.read_text().strip()}"

    def up(self, timeout: float = 60) -> str:
        """Start the server; its URL once it listens on a port of its own (a port taken
        between ``free_port`` and moto's bind: started again on another)."""
        exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
        if exe is None:
            raise S3Unavailable("no moto_server in the venv (pip install 'moto[server]')")
        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            if self._start(exe, free_port(), timeout):
                return self.url
        raise S3Unavailable(f"moto_server could not listen on a port: {self.root / 'moto.log'}")

    def _start(self, exe: str, port: int, timeout: float) -> bool:
        log = (self.root / "moto.log").open("w")
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid_file.write_text(str(proc.pid))
        self.port_file.write_text(str(port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
                    if listens(proc.pid, port):
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        self.down()
        if proc.poll() is None:
            raise S3Unavailable(f"moto_server did not answer in {timeout} s")
        return False

    def down(self) -> None:
        if not self.pid_file.exists():
            return
        pid = int(self.pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.pid_file.unlink()

    def client(self):
        """A boto3 client with (fake) credentials, for filling the buckets."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def fill(self, bucket: str, files: Iterable[Path], root: Path) -> list[str]:
        """Upload ``files`` (under ``root``) as public-read objects keyed by their path below
        ``root`` (the buckets' layout); returns the keys."""
        s3 = self.client()
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        keys = []
        for path in files:
            key = path.relative_to(root).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ACL="public-read")
            keys.append(key)
        return keys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.s3_server")
    p.add_argument("action", choices=["up", "down"])
    p.add_argument("dir", type=Path)
    args = p.parse_args(argv)
    server = S3Server(args.dir)
    if args.action == "up":
        print(f"export AWS_ENDPOINT_URL={server.up()}")
    else:
        server.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
