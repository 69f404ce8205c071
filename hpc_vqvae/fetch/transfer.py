"""Copying objects to local files that are whole or absent: each goes to a hidden ``.part``
sibling, is checked (size, and MD5 where the ETag is one), and renamed into place; a manifest
records what was copied so that a rerun skips it without reading it again."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from .plan import Remote

MANIFEST = "fetch-manifest.jsonl"


@dataclass(frozen=True)
class Copied:
    """A manifest line: the object, and the local file it became."""

    key: str
    path: str  # relative to --dest
    size: int
    etag: str
    mtime_ns: int  # of the local file when it was checked
    at: str  # UTC, ISO

    @classmethod
    def of(cls, remote: Remote, local: Path) -> Copied:
        return cls(
            remote.key,
            str(remote.relative),
            remote.size,
            remote.etag,
            local.stat().st_mtime_ns,
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )


class Manifest:
    """``DEST/fetch-manifest.jsonl``, appended as files complete (a killed run keeps every
    line it wrote; a torn last line is ignored). Held as key -> (ETag, mtime_ns), what a rerun
    compares, read line by line: five years of meso are 1.58M lines."""

    def __init__(self, dest: Path):
        self.path = dest / MANIFEST
        self.entries: dict[str, tuple[str, int]] = {}
        if self.path.is_file():
            with self.path.open() as lines:
                for line in lines:
                    try:
                        entry = Copied(**json.loads(line))
                    except (ValueError, TypeError):
                        continue
                    self.entries[entry.key] = (entry.etag, entry.mtime_ns)
        self._lock = threading.Lock()

    def add(self, entry: Copied) -> None:
        with self._lock:
            self.entries[entry.key] = (entry.etag, entry.mtime_ns)
            with self.path.open("a") as f:
                f.write(json.dumps(asdict(entry)) + "\n")


def md5_etag(etag: str) -> bool:
    """A single-part upload's ETag is the object's MD5; a multipart one has a ``-N`` suffix."""
    return len(etag) == 32 and "-" not in etag


def md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_complete(remote: Remote, local: Path, manifest: Manifest, verify: bool) -> bool:
    """The local file is this object: same size, and either recorded as copied (same ETag,
    untouched since) or, unrecorded or with ``verify``, its MD5 is the ETag."""
    try:
        stat = local.stat()
    except FileNotFoundError:
        return False
    if stat.st_size != remote.size:
        return False
    recorded = manifest.entries.get(remote.key) == (remote.etag, stat.st_mtime_ns)
    if recorded and not verify:
        return True
    if md5_etag(remote.etag):
        return md5(local) == remote.etag
    return recorded  # a multipart ETag: size and the record are all there is to compare


def copy(
    get_file: Callable[[str, str], None],
    remote: Remote,
    local: Path,
    retries: int,
    backoff_s: float = 1.0,
) -> None:
    """``get_file(key, path)`` into a ``.part`` sibling, checked, then renamed to ``local``;
    retried with exponential backoff. The last failure is raised."""
    local.parent.mkdir(parents=True, exist_ok=True)
    part = local.with_name(f".{local.name}.part")
    for attempt in range(retries + 1):
        try:
            get_file(remote.key, str(part))
            _check(remote, part)
            os.replace(part, local)
            return
        except Exception:
            part.unlink(missing_ok=True)
            if attempt == retries:
                raise
            time.sleep(min(backoff_s * 2**attempt, 60.0))


def _check(remote: Remote, part: Path) -> None:
    size = part.stat().st_size
    if size != remote.size:
        raise OSError(f"{remote.key}: got {size} bytes, expected {remote.size}")
    if md5_etag(remote.etag) and md5(part) != remote.etag:
        raise OSError(f"{remote.key}: MD5 differs from its ETag")
