"""Millions of archive paths at once: a listing read in blocks and ABI names parsed as columns.

A five-year meso archive at one minute is 15.8 million files. One Python object per path (a
``Path``, an ``ABIFileName``, a ``datetime``) costs about a kilobyte and 30 us each: 19 GB and
eight minutes before a job starts. Here a listing is read by Arrow's CSV reader in blocks, the
name is matched by Arrow's regex engine, and the fields become numpy columns; only the path
strings are kept, in Arrow's packed form (its length in bytes, plus 8 per path).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .names import (
    _NAME_RE,
    FROM_END,
    SATELLITES,
    SECTORS,
    ABINameError,
    parse_name,
    sector_tail,
)

BLOCK_BYTES = 16 << 20  # Arrow's read block: a bounded slice of a listing of any length
# The file-name pattern of names.py, found at the end of a path (RE2 takes its syntax).
_PATH_RE = "(?:^|/)" + _NAME_RE.pattern.removeprefix("^")
_JSON_PATH_RE = r'"path"\s*:\s*"(?P<path>[^"\\]*)"'
_US_PER = {"day": 86_400_000_000, "hour": 3_600_000_000, "minute": 60_000_000, "second": 1_000_000}


def read_listing(listing: Path) -> Iterator[pa.Array]:
    """The ``*.nc`` paths of a listing, block by block: one path per line (``lfs find`` or
    ``find`` output, folders and blank lines ignored; relative paths are left relative to the
    archive, see ``resolve``) or fetch's JSON-lines manifest (its ``path`` field, relative to
    the manifest's folder, which is prefixed)."""
    here = str(Path(listing).parent)
    read = pacsv.ReadOptions(column_names=["line"], block_size=BLOCK_BYTES)
    parse = pacsv.ParseOptions(delimiter="\x1f", quote_char=False, escape_char=False)
    convert = pacsv.ConvertOptions(column_types={"line": pa.large_string()})
    with pacsv.open_csv(listing, read, parse, convert) as reader:
        for batch in reader:
            paths = batch.column(0)
            if pc.any(pc.match_substring_regex(paths, r"^\s|\s$")).as_py():
                paths = pc.utf8_trim_whitespace(paths)
            is_json = pc.starts_with(paths, "{")
            if pc.any(is_json).as_py():
                paths = pc.if_else(is_json, _manifest_paths(paths, here), paths)
            yield paths.filter(pc.fill_null(pc.ends_with(paths, ".nc"), False))


def _manifest_paths(lines: pa.Array, folder: str) -> pa.Array:
    """The ``path`` of fetch's manifest lines: relative to the manifest's folder."""
    path = pc.struct_field(pc.extract_regex(lines, _JSON_PATH_RE), 0)
    under = pc.binary_join_element_wise(
        pa.scalar(folder + "/", path.type), path, pa.scalar("", path.type)
    )
    return pc.if_else(pc.starts_with(path, "/"), path, under)


def resolve(root: str | Path, path: str) -> Path:
    """A listed path as a file: relative ones under ``root``, absolute ones as they are."""
    return Path(os.path.normpath(os.path.join(root, path)))


@dataclass
class NameColumns:
    """The fields of many ABI file names, a numpy column each. Stamps are integers
    ``YYYYJJJHHMMSSt``, which sort as time."""

    satellite: np.ndarray  # int8: index into names.SATELLITES
    sector: np.ndarray  # int8: index into names.SECTORS
    band: np.ndarray  # int8: 1..16
    start: np.ndarray  # datetime64[us]
    created: np.ndarray  # int64 stamp

    def take(self, rows: np.ndarray) -> NameColumns:
        return NameColumns(**{k: v[rows] for k, v in vars(self).items()})

    @staticmethod
    def concat(parts: list[NameColumns]) -> NameColumns:
        if not parts:
            return parse_names(pa.array([], pa.large_string()))[1]
        columns = vars(parts[0])
        return NameColumns(**{k: np.concatenate([vars(p)[k] for p in parts]) for k in columns})


def parse_names(paths: pa.Array) -> tuple[np.ndarray, NameColumns]:
    """Which paths' file names ``names.parse_name`` accepts (``problems`` says why not), and
    those names' fields, without a Python object per name."""
    ok = pc.fill_null(pc.match_substring_regex(paths, _PATH_RE), False)
    ok = ok.to_numpy(zero_copy_only=False)
    named = paths if ok.all() else paths.filter(pa.array(ok))
    field = {k: pc.utf8_slice_codeunits(named, a, b) for k, (a, b) in FROM_END.items()}
    stamps = {k: _ints(field[k]) for k in ("start", "end", "created")}
    fine = np.logical_and.reduce([_in_range(stamp) for stamp in stamps.values()])
    ok[ok] = fine
    return ok, NameColumns(
        satellite=_codes(field["satellite"], SATELLITES),
        sector=_codes(field["sector"], tuple(sector_tail(s) for s in SECTORS)),
        band=_ints(field["band"]).astype(np.int8),
        start=stamp_times(stamps["start"]),
        created=stamps["created"],
    ).take(fine)


def problems(paths: Iterable[str]) -> list[str]:
    """Why each of these names is not an ABI L1b name, as ``parse_name`` says it (few: called
    only for the names ``parse_names`` did not accept)."""
    out = []
    for path in paths:
        try:
            parse_name(path)
            out.append("")
        except ABINameError as err:
            out.append(str(err))
    return out


def stamp_times(stamps: np.ndarray) -> np.ndarray:
    """``YYYYJJJHHMMSSt`` integers -> datetime64[us], as ``names.parse_stamp`` reads them."""
    year = (stamps // 10**10 - 1970).astype("datetime64[Y]")
    us = (stamps // 10**7 % 1000 - 1) * _US_PER["day"]
    us += stamps // 10**5 % 100 * _US_PER["hour"] + stamps // 10**3 % 100 * _US_PER["minute"]
    us += stamps // 10 % 100 * _US_PER["second"] + stamps % 10 * 100_000
    return year.astype("datetime64[us]") + us.astype("timedelta64[us]")


def _ints(strings: pa.Array) -> np.ndarray:
    return pc.cast(strings, pa.int64()).to_numpy(zero_copy_only=False)


def _codes(strings: pa.Array, values: tuple[str, ...]) -> np.ndarray:
    """Each string's index in ``values`` (-1 for none), as a small integer column."""
    at = pc.fill_null(pc.index_in(strings, value_set=pa.array(values)), -1)
    return at.to_numpy(zero_copy_only=False).astype(np.int8)


def _in_range(stamps: np.ndarray) -> np.ndarray:
    """The field checks of ``names.parse_stamp``: day 1-366, hour, minute, second (61: leap)."""
    doy, hh = stamps // 10**7 % 1000, stamps // 10**5 % 100
    mm, ss = stamps // 10**3 % 100, stamps // 10 % 100
    return (doy >= 1) & (doy <= 366) & (hh < 24) & (mm < 60) & (ss < 61)
