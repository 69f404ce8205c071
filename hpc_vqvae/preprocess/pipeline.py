"""The preprocessing job, top to bottom: catalog -> plan -> per-scan work -> statistics.

Rank 0 walks the archive and prepares the store (template or append), every rank processes
the blocks of scans dealt to it and writes them shard by shard as chunk-aligned regions, and
rank 0 reduces the statistics, consolidates the metadata once, and writes the report beside
the store. Each rank does its part through one ``writer.StoreWriter``, which opens the store
once per process.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from itertools import groupby
from pathlib import Path

import numpy as np
from mpi4py import MPI

from .. import outputs
from ..abi.bands import BANDS, SECTOR_SHAPE_2KM, band_number
from ..abi.grid import ScanError
from ..errors import UsageError
from ..store import StoreError, layout, stats
from .catalog import Catalog, Scan, ScanTable, build_catalog
from .config import PreprocessConfig
from .parallel import Progress, deal
from .scan import process_scan
from .writer import StoreWriter

SEND_SCANS = 65_536  # scans per message from rank 0 (their paths: about 40 MB)


@dataclass
class Work:
    """One rank's scans and their slots in the store, in slot order; a ``Scan`` is made only
    when the rank comes to it."""

    slots: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    scans: ScanTable | None = None

    def __len__(self) -> int:
        return len(self.slots)

    def __iter__(self) -> Iterator[tuple[int, Scan]]:
        if self.scans is not None:
            yield from zip(self.slots.tolist(), self.scans, strict=True)

    @staticmethod
    def concat(pieces: list[Work]) -> Work:
        if not pieces:
            return Work()
        scans = ScanTable.concat([piece.scans for piece in pieces if piece.scans is not None])
        return Work(np.concatenate([piece.slots for piece in pieces]), scans)


@dataclass
class Plan:
    """What this run does, decided on rank 0. Each rank is sent its own share of the work and
    every rank is told the plan's figures, never the whole catalog: at years of scans that
    would be gigabytes on every rank."""

    slots: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # to do, sorted
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # in catalog.scans
    n_slots: int = 0
    sizes: tuple[int, int] = (1, 1)  # the store's (scans_per_shard, scans_per_block)
    catalog: Catalog | None = None  # rank 0's alone
    error: str | None = None
    n_todo: int = 0  # over all ranks

    def shares(self, ranks: int) -> list[np.ndarray]:
        """Which of the plan's scans each rank does: whole blocks, dealt by load
        (``parallel.deal``), as positions in ``slots``."""
        blocks, of_block, count = np.unique(
            self.slots // self.sizes[1], return_inverse=True, return_counts=True
        )
        dealt = deal(dict(zip(blocks.tolist(), count.tolist(), strict=True)), ranks)
        owner = np.zeros(len(blocks), np.int64)
        for rank, mine in enumerate(dealt):
            owner[np.searchsorted(blocks, mine)] = rank
        of_scan = owner[of_block]
        return [np.flatnonzero(of_scan == rank) for rank in range(ranks)]

    @staticmethod
    def pieces(share: np.ndarray) -> list[np.ndarray]:
        """A share in the pieces it is sent in: at most ``SEND_SCANS`` scans each."""
        return np.array_split(share, max(1, -(-len(share) // SEND_SCANS)))

    def work(self, share: np.ndarray, compact: bool = False) -> Work:
        """A share as work; ``compact`` for another rank: only the paths it needs travel."""
        if self.catalog is None:
            return Work()
        return Work(self.slots[share], self.catalog.scans.take(self.rows[share], compact))

    def figures(self) -> Plan:
        """The plan without its work and catalog: what every rank is told."""
        return replace(self, slots=self.slots[:0], rows=self.rows[:0], catalog=None)


def _send_work(plan: Plan, comm: MPI.Comm) -> Work:
    """Rank 0 sends each rank its share in pieces of ``SEND_SCANS`` scans (one piece's paths
    and pickle in memory beside the catalog, not whole shares); every rank returns its own."""
    if comm.rank != 0:
        return Work.concat([comm.recv(source=0) for _ in range(comm.recv(source=0))])
    shares = plan.shares(comm.size)
    for rank in range(1, comm.size):
        pieces = plan.pieces(shares[rank])
        comm.send(len(pieces), dest=rank)
        for piece in pieces:
            comm.send(plan.work(piece, compact=True), dest=rank)
    return plan.work(shares[0])


def report_path(output: Path) -> Path:
    return output.with_name(output.name + ".report.json")


def _plan(cfg: PreprocessConfig, store: StoreWriter) -> Plan:
    """Rank 0: the catalog against the store (vectorised: years of scans are millions)."""
    catalog = build_catalog(cfg)
    times = catalog.scans.start.astype("datetime64[ns]")
    state = store.read_state()
    if state is None:
        if len(times):
            store.create(times)
        every = np.arange(len(times))
        return Plan(every, every, len(times), store.sizes or (1, 1), catalog)
    old_times, written, attrs = state
    store.check_compatible(attrs)
    slots = _slots_of(times, old_times)
    new = np.flatnonzero(slots < 0)
    if new.size:
        store.append(times[new], len(old_times))
        slots[new] = len(old_times) + np.arange(new.size)
    done = np.zeros(len(slots), bool)
    old = slots < len(written)
    done[old] = written[slots[old]] == layout.SCAN_WRITTEN
    todo = np.flatnonzero(~done)
    todo = todo[np.argsort(slots[todo], kind="stable")]
    return Plan(slots[todo], todo, len(old_times) + new.size, store.sizes, catalog)


def _slots_of(times: np.ndarray, old_times: np.ndarray) -> np.ndarray:
    """Each time's slot in the store, -1 for a time it does not hold yet."""
    if not len(old_times):
        return np.full(len(times), -1, np.int64)
    order = np.argsort(old_times, kind="stable")
    ordered = old_times[order]
    at = np.searchsorted(ordered, times).clip(max=len(ordered) - 1)
    return np.where(ordered[at] == times, order[at], -1).astype(np.int64)


def _runs(slots: list[tuple[int, Scan]]) -> list[list[tuple[int, Scan]]]:
    """Split slot-sorted work into runs of consecutive slots (one region write each)."""
    runs: list[list[tuple[int, Scan]]] = []
    for item in slots:
        if runs and runs[-1][-1][0] + 1 == item[0]:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _work(cfg, store: StoreWriter, mine: Work, progress: Progress) -> dict:
    """This rank's scans, shard by shard (they come in slot order), one region write per run
    of consecutive slots."""
    failed, written, nbytes, projection = [], 0, 0, None
    for _, in_shard in groupby(mine, key=lambda item: item[0] // store.sizes[0]):
        for run in _runs(list(in_shard)):
            results = []
            for _, scan in run:
                try:
                    res = process_scan(scan, cfg, store.shape)
                    nbytes += res.bytes_read
                    written += 1
                    projection = projection or res.projection
                except ScanError as err:
                    res = None
                    failed.append({"what": scan.label, "kind": err.kind, "reason": str(err)})
                results.append(res)
                progress.update()
            store.write_slots(run[0][0], results)
    return {"failed": failed, "written": written, "bytes": nbytes, "projection": projection}


def _statistics(cfg: PreprocessConfig, store: StoreWriter, n_slots: int, comm: MPI.Comm) -> dict:
    """Per-block totals of the written scans on every rank (blocks dealt round-robin),
    gathered and reduced in block order on rank 0: the bits ``Store.statistics_over`` gives."""
    block = store.sizes[1]
    mine: dict[int, np.ndarray] = {}
    for b in range(comm.rank, -(-n_slots // block), comm.size):
        start = b * block
        written, partials = store.read_stats(start, min(n_slots, start + block))
        ok = start + np.flatnonzero(written == layout.SCAN_WRITTEN)
        mine.update(stats.block_totals(ok, block, lambda _, p=partials: p))
    gathered = comm.gather(mine, root=0)
    if comm.rank != 0:
        return {}
    total = stats.over_blocks({k: v for part in gathered for k, v in part.items()})
    out = {}
    for i, band in enumerate(cfg.bands):
        part = stats.EMPTY if total is None else total[i]
        out[band] = stats.summary(part, daytime_only=not BANDS[band_number(band)].emissive)
    return out


def run(cfg: PreprocessConfig, comm: MPI.Comm) -> dict | None:
    """Run the job on every rank of ``comm``; rank 0 returns the report, the others None."""
    t0 = time.perf_counter()
    store = StoreWriter(cfg, SECTOR_SHAPE_2KM[cfg.sector])  # opened when first needed
    plan, lock = Plan(), outputs.Lock(cfg.output, "--output")
    if comm.rank == 0:
        try:
            lock.acquire()
            plan = _plan(cfg, store)
            plan.n_todo = len(plan.slots)
        except (UsageError, FileNotFoundError) as err:
            plan = Plan(error=str(err))
    figures = comm.bcast(plan.figures() if comm.rank == 0 else None, root=0)
    if figures.error:
        lock.release()
        raise StoreError(figures.error)
    mine = _send_work(plan, comm)
    try:
        return _run_plan(cfg, comm, store, plan if comm.rank == 0 else figures, mine, t0)
    finally:
        lock.release()


def _run_plan(
    cfg: PreprocessConfig,
    comm: MPI.Comm,
    store: StoreWriter,
    plan: Plan,
    mine: Work,
    t0: float,
) -> dict | None:
    store.sizes = plan.sizes
    progress = Progress(comm, plan.n_todo, f"preprocess ({comm.size} rank{'s' * (comm.size > 1)})")
    t_work = time.perf_counter()
    done = _work(cfg, store, mine, progress)
    done["work_s"] = time.perf_counter() - t_work
    progress.close()

    results = comm.gather(done, root=0)
    comm.barrier()  # every region is written before anyone reads the statistics back
    statistics = _statistics(cfg, store, plan.n_slots, comm) if plan.n_slots else {}
    if comm.rank != 0:
        comm.barrier()
        return None
    held = {}
    if plan.n_slots:
        projection = next((r["projection"] for r in results if r["projection"]), None)
        held = store.finalize(statistics, projection)
    comm.barrier()
    wall = time.perf_counter() - t0
    written = sum(r["written"] for r in results)
    report = {
        "store": str(cfg.output),
        "ranks": comm.size,
        "files_seen": plan.catalog.files_seen,
        "scans_found": len(plan.catalog.scans),
        "scans_in_store": plan.n_slots,
        "scans_to_do": plan.n_todo,
        "written": written,
        "failed": [f for r in results for f in r["failed"]],
        "skipped": [asdict(s) for s in plan.catalog.skipped],
        "gb_read": sum(r["bytes"] for r in results) / 1e9,
        "wall_s": wall,
        "scans_per_s": written / wall if wall > 0 else 0.0,
        "work_s": max(r["work_s"] for r in results),  # the per-scan phase, slowest rank
        "satellites": held,
        "statistics": statistics,
        "config": cfg.describe(),
    }
    cfg.output.parent.mkdir(parents=True, exist_ok=True)
    report_path(cfg.output).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


def summary_lines(report: dict) -> list[str]:
    """The end-of-job summary that rank 0 prints."""
    reasons = Counter(s["reason"].split(":")[0] for s in report["skipped"])
    reasons.update(f"failed, {f['kind']}" for f in report["failed"])
    lines = [
        f"scans found {report['scans_found']}, to do {report['scans_to_do']}, written "
        f"{report['written']}, failed {len(report['failed'])}, files skipped or scans incomplete "
        f"{len(report['skipped'])}",
        f"read {report['gb_read']:.3f} GB in {report['wall_s']:.1f} s on {report['ranks']} "
        f"rank(s): {report['scans_per_s']:.2f} scans/s",
    ]
    lines += [
        f"  {sat}: {held['scans']} scans in the store, {held['first']} .. {held['last']}"
        for sat, held in report["satellites"].items()
    ]
    lines += [f"  {n} x {reason}" for reason, n in reasons.most_common()]
    lines.append(f"store {report['store']}; report {report_path(Path(report['store']))}")
    return lines
