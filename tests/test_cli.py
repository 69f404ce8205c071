"""The one way a command ends on a user's mistake: ``error: <message>``, exit code 2, said
once for the job by the rank that speaks; anything else keeps its traceback."""

from __future__ import annotations

import pytest

from hpc_vqvae.cli import exit_code
from hpc_vqvae.errors import ConfigError, UsageError


def test_a_usage_error_is_one_line_and_exit_2(capsys):
    def body() -> int:
        raise ConfigError("--years 20x: expected e.g. 2019-2023")

    assert exit_code(body) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "error: --years 20x: expected e.g. 2019-2023\n"


def test_only_the_rank_that_speaks_prints(capsys):
    def body() -> int:
        raise UsageError("the store is missing")

    assert exit_code(body, speaks=lambda: False) == 2
    assert capsys.readouterr().err == ""


def test_the_body_exit_code_passes_through_and_bugs_keep_their_traceback(capsys):
    assert exit_code(lambda: 1) == 1 and exit_code(lambda: 0) == 0

    def bug() -> int:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        exit_code(bug)

    def not_usage() -> int:
        raise ValueError("a library's ValueError")

    with pytest.raises(ValueError):
        exit_code(not_usage)
    assert exit_code(not_usage, catch=(ValueError,)) == 2
    assert capsys.readouterr().err == "error: a library's ValueError\n"
