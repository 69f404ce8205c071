"""What every command line shares: how a user's mistake ends a command, and help text that
reads defaults from the schema that owns them (so ``--help`` cannot drift from the code).

A command's body raises ``UsageError`` (errors.py) for anything the user can fix; ``exit_code``
turns it into ``error: <message>`` on stderr and exit code 2. Under a launcher every rank
meets the same error, so each command says which rank speaks for the job.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from pydantic import BaseModel

from .errors import UsageError


def _everyone() -> bool:
    return True


def exit_code(
    body: Callable[[], int],
    speaks: Callable[[], bool] = _everyone,
    catch: tuple[type[Exception], ...] = (UsageError,),
) -> int:
    """``body()``'s exit code, or 2 after one ``error:`` line from the rank that ``speaks``.

    ``speaks`` is asked only on error, so a command may decide it late (after MPI starts).
    ``catch`` widens the net only where a library's ValueError is the user's doing.
    """
    try:
        return body()
    except catch as err:
        if speaks():
            print(f"error: {err}", file=sys.stderr, flush=True)
        return 2


def default(model: type[BaseModel], field: str) -> object:
    """A schema field's default, for help text: ``f"(default {default(Cfg, 'workers')})"``."""
    return model.model_fields[field].get_default(call_default_factory=True)
