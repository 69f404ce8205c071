"""Times on prediction's command line: an inclusive end at the precision given."""

from datetime import datetime

import pytest

from hpc_vqvae.errors import UsageError
from hpc_vqvae.predict.sources import parse_end, parse_time


@pytest.mark.parametrize(
    ("text", "last"),
    [
        ("2020-06-04", "2020-06-04T23:59:59.999999"),
        ("2020-06-04T08", "2020-06-04T08:59:59.999999"),
        ("2020-06-04T08:00", "2020-06-04T08:00:59.999999"),
        ("2020-06-04 08:00", "2020-06-04T08:00:59.999999"),
        ("2020-06-04T08:00:27", "2020-06-04T08:00:27.999999"),
        ("2020-06-04T08:00:27.5", "2020-06-04T08:00:27.500000"),
        ("2020-06-04T10:00+02:00", "2020-06-04T08:00:59.999999"),
        ("2020-06-04T08:00Z", "2020-06-04T08:00:59.999999"),
    ],
)
def test_end_is_inclusive_at_its_precision(text, last):
    assert parse_end("--end", text) == datetime.fromisoformat(last)
    assert parse_time("--start", text) <= parse_end("--end", text)


def test_a_bad_time_names_its_flag():
    with pytest.raises(UsageError, match="--end 'June 4'"):
        parse_end("--end", "June 4")
