"""The catalog as columns against the rule it replaces (one ``parse_name`` and one dict entry per
file): the same scans with the same files, the same things left out for the same reasons, on a
messy listing; and each rank's share of a plan, as it is sent."""

import json
from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
import pytest

from hpc_vqvae.abi.bands import band_name
from hpc_vqvae.abi.listing import resolve
from hpc_vqvae.abi.names import ABIFileName, ABINameError, parse_name
from hpc_vqvae.abi.platforms import satellite_on
from hpc_vqvae.preprocess import pipeline
from hpc_vqvae.preprocess.catalog import Scan, Skipped, build_catalog
from hpc_vqvae.preprocess.config import load_config
from hpc_vqvae.preprocess.pipeline import Plan, Work

DUPLICATE = "duplicate of a newer file of the same scan and band"


def _messy_listing(rng: np.random.Generator) -> list[str]:
    """Scans on both sides of the west slot's G17 -> G18 handover (2023-01-04), from both
    satellites, M1 and M2, with bands missing, re-issued files (newer, older, and equally new
    in another folder), names that are not ABI names or have a stamp out of range, folders and
    blank lines."""
    lines = ["ABI-L1b-RadM/2023/003/", "", "ABI-L1b-RadM/2023/003/12/README.nc"]
    lines.append(
        "ABI-L1b-RadM/2023/003/12/OR_ABI-L1b-RadM1-M6C13_G17_s20230032512275"
        "_e20230032512300_c20230032512300.nc"
    )
    for _ in range(160):
        start = datetime(2022, 12, 31) + timedelta(seconds=int(rng.integers(0, 6 * 86400)) * 1.1)
        start = start.replace(microsecond=start.microsecond // 100_000 * 100_000)
        for satellite in ("G17", "G18")[: int(rng.integers(1, 3))]:
            sector = ("M1", "M2")[int(rng.random() < 0.2)]
            for band in range(1, 17):
                if rng.random() < 0.03:
                    continue  # a band missing
                for copy in range(1 + int(rng.random() < 0.1)):  # re-issued, or copied
                    created = start + timedelta(seconds=int(rng.integers(30, 33)))
                    name = ABIFileName(satellite, sector, start, band, 6, start, created)
                    lines.append(f"{'mirror/' * copy}{name.archive_path}")
    order = rng.permutation(len(lines))
    return [lines[i] for i in order]


def _reference(lines: list[str], cfg) -> tuple[list[Scan], set[Skipped]]:
    """The catalog one file at a time, as it was built before it became columns."""
    by_scan: dict[tuple, dict[str, tuple]] = defaultdict(dict)
    skipped = set()
    for line in lines:
        if not line.endswith(".nc"):
            continue
        path = resolve(cfg.archive, line)
        try:
            name = parse_name(path)
        except ABINameError as err:
            skipped.add(Skipped(str(path), f"unparseable name: {err}"))
            continue
        minute = name.start.hour * 60 + name.start.minute
        if (
            band_name(name.band) not in cfg.bands
            or name.sector != cfg.sector
            or name.start.year not in cfg.years
            or (cfg.hours is not None and name.start.hour not in cfg.hours)
            or (cfg.every is not None and minute % (cfg.every.total_seconds() // 60))
            or name.satellite != satellite_on(cfg.satellite, name.start)
        ):
            continue
        scan, band = by_scan[name.scan_key], band_name(name.band)
        if band in scan and not name.created > scan[band][0].created:
            skipped.add(Skipped(str(path), DUPLICATE))  # the first listed of equals stays
            continue
        if band in scan:
            skipped.add(Skipped(str(scan[band][1]), DUPLICATE))
        scan[band] = (name, path)
    scans = []
    for (satellite, sector, start), files in sorted(by_scan.items(), key=lambda kv: kv[0][2]):
        scan = Scan(satellite, sector, start, {b: files[b][1] for b in cfg.bands if b in files})
        missing = [b for b in cfg.bands if b not in files]
        if missing:
            skipped.add(Skipped(scan.label, f"incomplete scan: missing {','.join(missing)}"))
        else:
            scans.append(scan)
    return scans, skipped


@pytest.mark.parametrize(
    "selection",
    [
        {"satellite": "west"},
        {"satellite": "G17", "hours": "0-11", "every": "2min", "input_bands": "C13,C14"},
    ],
)
@pytest.mark.parametrize("form", ["lines", "manifest"])
def test_the_catalog_is_the_per_file_rule(tmp_path, selection, form):
    lines = _messy_listing(np.random.default_rng(len(selection)))
    settings = {"archive": tmp_path / "archive", "output": tmp_path / "x.zarr", "years": "2023"}
    cfg = load_config(None, {**settings, **selection})
    listing = tmp_path / "listing.txt"
    if form == "manifest":  # fetch's: paths relative to its folder, which is the archive here
        listing = cfg.archive / "fetch-manifest.jsonl"
        listing.parent.mkdir()
        lines = [line for line in lines if line.endswith(".nc")]
        listing.write_text("".join(json.dumps({"path": p, "size": 1}) + "\n" for p in lines))
    else:
        listing.write_text("\n".join(lines) + "\n")
    catalog = build_catalog(cfg.model_copy(update={"catalog": listing}))
    scans, skipped = _reference(lines, cfg)
    assert len(scans) > 20 and {s.satellite for s in scans} == (
        {"G17", "G18"} if cfg.satellite == "west" else {"G17"}
    )
    assert {s.reason.split(":")[0] for s in skipped} >= {DUPLICATE, "incomplete scan"}
    assert list(catalog.scans) == scans
    assert set(catalog.skipped) == skipped and len(catalog.skipped) == len(skipped)
    assert catalog.files_seen == sum(line.endswith(".nc") for line in lines)


def test_each_rank_gets_whole_blocks_and_a_sent_share_holds_the_same_scans(tmp_path):
    lines = _messy_listing(np.random.default_rng(3))
    listing = tmp_path / "listing.txt"
    listing.write_text("\n".join(lines) + "\n")
    settings = {"archive": tmp_path, "output": tmp_path / "x.zarr", "years": "2023"}
    catalog = build_catalog(load_config(None, {**settings, "catalog": listing}))
    n = len(catalog.scans)
    rows = np.random.default_rng(0).permutation(n)  # the store's order need not be time order
    plan = Plan(np.arange(n) + 5, rows, n + 5, (2, 4), catalog)
    shares = plan.shares(3)
    assert sorted(np.concatenate(shares).tolist()) == list(range(n))
    blocks = [set((plan.slots[s] // 4).tolist()) for s in shares]
    assert all(a.isdisjoint(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert max(map(len, shares)) - min(map(len, shares)) <= 4  # dealt by load
    for share in shares:
        sent = plan.work(share, compact=True)
        assert len(sent.scans.paths) == 6 * len(share)  # only its own files travel
        expected = [(int(plan.slots[i]), catalog.scans[int(plan.rows[i])]) for i in share]
        assert list(sent) == list(plan.work(share)) == expected
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pipeline, "SEND_SCANS", 7)
            pieces = [plan.work(piece, compact=True) for piece in plan.pieces(share)]
        assert len(pieces) == -(-len(share) // 7) and max(map(len, pieces)) <= 7
        assert list(Work.concat(pieces)) == expected  # a share received in pieces
