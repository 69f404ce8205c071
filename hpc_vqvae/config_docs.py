"""``python -m hpc_vqvae.config_docs > docs/config.md``: the config reference, rendered from the
schemas themselves, so that a key, its type, its default and its meaning have one home: the
field in its schema. A field's meaning is its ``Field(description=...)``, else the comment on
its line or the comment lines right above it. ``tests/test_config_docs.py`` regenerates the
page and fails when the committed one differs."""

from __future__ import annotations

import ast
import inspect
import io
import re
import sys
import textwrap
import tokenize
import types
import typing
from pathlib import Path

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .fetch.config import FetchConfig
from .launch.config import LaunchConfig
from .preprocess.config import PreprocessConfig
from .train.config import Config

REGENERATE = "python -m hpc_vqvae.config_docs > docs/config.md"

PREAMBLE = f"""\
# Config reference

<!-- GENERATED from the pydantic schemas by `{REGENERATE}`; do not edit by hand.
     tests/test_config_docs.py fails when this page and the schemas differ. -->

Every section is validated: a wrong key or value fails at start with one line naming it.
Defaults are the schema's (`configs/tiny.yaml` and `configs/paper.yaml` set their own). A
field's meaning is written beside it in its schema (the module named above each table).

`day_sza_max` meant two things and is renamed in both places: `stats_sza_max` in preprocessing
(85 deg: statistics and `day_fraction`) and `data.target_sza_max` in training (80 deg: daytime
crops and the loss mask). Old config files keep working for one release, with a warning that
names the new key; stores made before keep opening, resuming and appending.
"""

# (title, how it is given, schema, key prefix): the order of the page.
SECTIONS: list[tuple[str, str, type[BaseModel], str]] = [
    *(
        (
            f"Training: `{name}`",
            "`configs/*.yaml`, overrides `section.key=value` (`python -m hpc_vqvae.train`, "
            "`launch`, `slurm/train_multinode.sh`'s `EXTRA`)",
            field.annotation,
            f"{name}.",
        )
        for name, field in Config.model_fields.items()
    ),
    (
        "Preprocessing",
        "`configs/preprocess.yaml`, flags `--key value` (`python -m hpc_vqvae.preprocess`)",
        PreprocessConfig,
        "",
    ),
    ("Fetch", "flags `--key value` (`python -m hpc_vqvae.fetch`)", FetchConfig, ""),
    (
        "Launch",
        "the flags of `python -m hpc_vqvae.launch`, validated as one schema before anything "
        "is submitted (`--time` gives `time_min`, `--signal` gives `signal_delay_s`)",
        LaunchConfig,
        "",
    ),
]

_BOUNDS = {Ge: (">=", "ge"), Gt: (">", "gt"), Le: ("<=", "le"), Lt: ("<", "lt")}


def type_name(annotation) -> str:
    """A type as a user writes it in YAML terms: ``'a' | 'b'``, ``list[str]``, ``Path | None``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if annotation is type(None):
        return "None"
    if origin is not None:
        return f"{origin.__name__}[{', '.join(type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))


def bounds(field: FieldInfo) -> str:
    """The field's numeric limits (``>= 1, < 1.0``): what validation refuses."""
    out = []
    for item in field.metadata:
        for kind, (sign, attr) in _BOUNDS.items():
            if isinstance(item, kind):
                out.append(f"{sign} {getattr(item, attr)}")
    return ", ".join(out)


def default_text(field: FieldInfo) -> str:
    if field.default is PydanticUndefined:
        return "required"
    default = field.default
    return f"`{default.as_posix() if isinstance(default, Path) else default}`"


def _comments(lines: list[str]) -> dict[int, str]:
    """Line number (1-based) -> the comment on that line."""
    tokens = tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline)
    return {t.start[0]: t.string for t in tokens if t.type == tokenize.COMMENT}


def _text(comments: list[str]) -> str:
    """Comment tokens as prose, without ``#`` marks and ``type: ignore[...]`` markers."""
    parts = (p.strip() for c in comments for p in c.split("#"))
    return " ".join(p for p in parts if p and not re.fullmatch(r"type: ignore(\[.*\])?", p))


def _own_meanings(cls: type) -> dict[str, str]:
    """The comments of the fields that ``cls`` itself declares: on the field's lines, else the
    comment lines right above it."""
    lines = textwrap.dedent(inspect.getsource(cls)).splitlines()
    found = _comments(lines)
    out = {}
    for node in ast.parse("\n".join(lines)).body[0].body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        last = node.end_lineno or node.lineno
        inline = [found[n] for n in range(node.lineno, last + 1) if n in found]
        above, n = [], node.lineno - 1
        while n in found and lines[n - 1].lstrip().startswith("#"):
            above.insert(0, found[n])
            n -= 1
        out[node.target.id] = _text(inline) or _text(above)
    return out


def meanings(schema: type[BaseModel]) -> dict[str, str]:
    """Each field's meaning: its description, else the comment beside it in the source of the
    class that declares it (the schema or a base it inherits the field from)."""
    declared: dict[str, str] = {}
    for cls in reversed(schema.__mro__):
        if issubclass(cls, BaseModel) and cls is not BaseModel:
            declared |= _own_meanings(cls)
    return {
        name: field.description or declared.get(name, "")
        for name, field in schema.model_fields.items()
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _is_schema(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def table(schema: type[BaseModel], prefix: str) -> list[str]:
    return [
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
        *_rows(schema, prefix),
    ]


def _rows(schema: type[BaseModel], prefix: str) -> list[str]:
    """One row per key; a nested schema's keys are listed as ``name.key``."""
    rows = []
    meaning = meanings(schema)
    for name, field in schema.model_fields.items():
        if _is_schema(field.annotation):
            rows += _rows(field.annotation, f"{prefix}{name}.")
            continue
        kind = type_name(field.annotation)
        limits = bounds(field)
        kind = f"`{kind}`" + (f" ({limits})" if limits else "")
        rows.append(
            f"| `{prefix}{name}` | {_cell(kind)} | {_cell(default_text(field))} "
            f"| {_cell(meaning[name])} |"
        )
    return rows


def render() -> str:
    """The whole page, as committed in docs/config.md."""
    out = [PREAMBLE]
    for title, given, schema, prefix in SECTIONS:
        out += [
            f"## {title}",
            "",
            f"{given}; schema `{schema.__module__}.{schema.__name__}`.",
            "",
            *table(schema, prefix),
            "",
        ]
    return "\n".join(out)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
