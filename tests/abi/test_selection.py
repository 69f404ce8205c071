"""One archive selection for fetch and preprocess: one band spelling, one band-list rule, and
help text read from each fact's home."""

from __future__ import annotations

from datetime import date

import pytest

from hpc_vqvae.abi import platforms
from hpc_vqvae.abi.bands import band_list, band_name, check_disjoint
from hpc_vqvae.abi.names import SECTORS
from hpc_vqvae.abi.selection import ArchiveSelection
from hpc_vqvae.fetch.__main__ import parser as fetch_parser
from hpc_vqvae.fetch.config import FetchConfig
from hpc_vqvae.preprocess.__main__ import parser as preprocess_parser
from hpc_vqvae.preprocess.config import PreprocessConfig


def test_band_name_is_the_one_spelling():
    assert [band_name(b) for b in (1, "13", "c07", " C16 ")] == ["C01", "C13", "C07", "C16"]
    with pytest.raises(ValueError, match="'C17'"):
        band_name("C17")


def test_band_lists_keep_order_and_refuse_a_band_named_twice():
    assert band_list("C14,11, c13") == ["C14", "C11", "C13"]
    assert band_list([13, "C01"]) == ["C13", "C01"]
    with pytest.raises(ValueError, match=r"^duplicate bands C11, C13: give each band once$"):
        band_list("C13,11,13,c11")
    with pytest.raises(ValueError, match="no bands given"):
        band_list(" , ")


def test_input_and_target_must_not_share_a_band():
    check_disjoint(["C11", "C13"], ["C01", "C02"])
    with pytest.raises(ValueError, match=r"bands \['C13'\] are both input and target"):
        check_disjoint(["C11", "C13"], ["C13", "C02"])


def test_fetch_and_preprocess_share_the_selection(tmp_path):
    shared = set(ArchiveSelection.model_fields)
    assert shared == {"satellite", "sector", "years", "hours", "every"}
    assert issubclass(FetchConfig, ArchiveSelection) and issubclass(
        PreprocessConfig, ArchiveSelection
    )
    picks = {
        "satellite": "east",
        "sector": "C",
        "years": "2020",
        "hours": "18-19",
        "every": "10min",
    }
    fetched = FetchConfig(dest=tmp_path, **picks)
    processed = PreprocessConfig(archive=tmp_path, output=tmp_path / "s.zarr", **picks)
    assert {k: getattr(fetched, k) for k in shared} == {k: getattr(processed, k) for k in shared}
    assert ArchiveSelection.model_fields["sector"].annotation.__args__ == SECTORS


def _help(parser) -> str:
    return " ".join(parser().format_help().split())  # argparse wraps at the terminal width


@pytest.mark.parametrize("parser", [fetch_parser, preprocess_parser], ids=["fetch", "preprocess"])
def test_help_reads_the_handover_from_the_platforms_table(monkeypatch, parser):
    assert "west: G17, then G18 from 2023-01-04" in _help(parser)
    later = (("G17", date(2019, 2, 12)), ("G18", date(2023, 1, 9)))
    monkeypatch.setitem(platforms.SLOTS, "west", later)
    assert "G18 from 2023-01-09" in _help(parser) and "2023-01-04" not in _help(parser)


def test_fetch_help_reads_its_defaults_from_the_schema(monkeypatch):
    assert "(default 16)" in _help(fetch_parser) and "(default 5)" in _help(fetch_parser)
    monkeypatch.setattr(FetchConfig.model_fields["workers"], "default", 64)
    assert "concurrent transfers (default 64)" in _help(fetch_parser)
