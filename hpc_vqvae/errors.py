"""The errors a user can cause, and the one way each becomes one line.

Every command-line entry point ends a ``UsageError`` with ``error: <message>`` and exit code
2; anything else is a bug and keeps its traceback. Config schemas report pydantic's first
problem through ``one_line``, named as the user wrote it (a flag, or a key in a file).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

from pydantic import ValidationError


class UsageError(ValueError):
    """A request that cannot be served, phrased as one line naming the culprit."""


class ConfigError(UsageError):
    """A configuration problem: a wrong key or value, or a missing or unreadable file."""


class LaunchError(UsageError):
    """Processes that cannot be started as asked: no scheduler, or ranks that would collide."""


def one_line(
    err: ValidationError,
    where: Callable[[str], str],
    missing: Callable[[str], str] | None = None,
) -> str:
    """pydantic's first problem as ``<where>: <message> (+N more)``.

    ``where`` turns the dotted field into what the user typed: a flag (``--nodes``) or a key
    of a file (``configs/x.yaml: model.ch``); ``missing`` phrases a required field left out.
    """
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    place = where(field)
    msg = first["msg"].removeprefix("Value error, ").removeprefix(f"bad {place} ")
    if first["type"] == "missing" and missing is not None:
        msg = missing(field)
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{place}: {msg}{more}"


def renamed_keys(values, renames: Mapping[str, str], section: str) -> object:
    """A config mapping with deprecated keys moved to their new names (a ``before`` model
    validator's body). Giving both the old and the new key is an error; the old alone works
    for one release, with a FutureWarning saying what to write instead."""
    if not isinstance(values, dict):
        return values
    out = dict(values)
    for old, new in renames.items():
        if old not in out:
            continue
        if new in out:
            raise ValueError(f"{section}{old} is the old name of {section}{new}: give only one")
        warnings.warn(
            f"{section}{old} is renamed {section}{new}; the old name goes in the next release",
            FutureWarning,
            stacklevel=2,
        )
        out[new] = out.pop(old)
    return out
