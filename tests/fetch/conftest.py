"""NOAA's buckets in miniature on a real S3 server (moto's, on loopback), filled with the
handover archive (tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import require_real
from tests.s3_server import S3Server, S3Unavailable


@dataclass(frozen=True)
class Buckets:
    url: str  # AWS_ENDPOINT_URL
    source: dict[str, Path]  # satellite -> the local tree its bucket was filled from


@pytest.fixture(scope="session")
def buckets(tmp_path_factory, handover) -> Buckets:
    """``noaa-goes17`` and ``noaa-goes18`` on the server, filled with the handover archive."""
    server = S3Server(tmp_path_factory.mktemp("s3"))
    try:
        url = server.up()
    except S3Unavailable as err:
        require_real("S3 server (moto)", False, str(err))
    source = handover
    for satellite, tree in source.items():
        server.fill(f"noaa-goes{satellite[1:]}", sorted(tree.rglob("*.nc")), tree)
    yield Buckets(url, source)
    server.down()
