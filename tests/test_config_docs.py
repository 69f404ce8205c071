"""docs/config.md is the schemas rendered: every key with its type, default and meaning, and
the committed page is what the generator writes today."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_core import PydanticUndefined

from hpc_vqvae import config_docs
from tests.helpers.readme import readme_commands, readme_section
from tests.helpers.real import REPO

PAGE = REPO / "docs" / "config.md"
# | `key` | type (escaped pipes inside) | default | meaning |
ROW = re.compile(r"^\| `([\w.]+)` \| (?:[^|\\]|\\.)* \| ((?:[^|\\]|\\.)*) \| ((?:[^|\\]|\\.)*) \|$")


def _rows(title: str) -> dict[str, tuple[str, str]]:
    """key -> (default, meaning) of one section of the committed page."""
    section = readme_section(title, "docs/config.md")
    matches = (ROW.match(line) for line in section.splitlines())
    return {m[1]: (m[2].strip(), m[3].strip()) for m in matches if m}


def test_the_committed_page_is_current():
    assert PAGE.read_text() == config_docs.render(), (
        f"docs/config.md differs from the schemas; regenerate it: {config_docs.REGENERATE}"
    )


def test_the_readme_command_regenerates_the_page(tmp_path):
    """The README's command, as written, in a folder of its own: the same page comes out."""
    (cmd,) = [c for c in readme_commands("Documentation") if "config_docs" in c]
    (tmp_path / "docs").mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    proc = subprocess.run(
        ["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "docs" / "config.md").read_text() == PAGE.read_text()


def test_every_key_is_listed_with_its_default():
    """Moved from the README's config reference: the training and preprocessing keys, each with
    the schema's default (`required` where there is none)."""
    from hpc_vqvae.preprocess.config import PreprocessConfig
    from hpc_vqvae.train.config import Config

    rows, expected = {}, {}
    for sec, field in Config.model_fields.items():
        rows |= _rows(f"Training: `{sec}`")
        for key, f in field.annotation.model_fields.items():
            expected[f"{sec}.{key}"] = f.default
    rows |= _rows("Preprocessing")
    expected.update({k: f.default for k, f in PreprocessConfig.model_fields.items()})
    assert sorted(rows) == sorted(expected)
    for key, default in expected.items():
        shown = rows[key][0]
        if default is PydanticUndefined:
            assert shown == "required", key
        elif not isinstance(default, dict):
            text = default.as_posix() if isinstance(default, Path) else default
            assert shown == f"`{text}`", key


def test_every_key_of_every_schema_has_a_meaning():
    """A new field without a description or a comment fails here, naming it."""
    for title, _, schema, prefix in config_docs.SECTIONS:
        missing = [f"{prefix}{k}" for k, text in config_docs.meanings(schema).items() if not text]
        assert not missing, f"{title}: no meaning for {missing} (add a comment beside the field)"
        rows = _rows(title)
        assert len(rows) == len(config_docs.table(schema, prefix)) - 2, title
        assert all(meaning for _, meaning in rows.values()), title


class _Base(BaseModel):
    inherited: int = 0  # from the base class


class _Nested(BaseModel):
    inner: str = "i"  # from the nested schema


class _Example(_Base):
    described: int = Field(1, ge=0, lt=5, description="from the description")  # not this
    commented: str = "x"  # from the trailing comment
    # from the lines
    # above it
    above: Literal["a", "b"] | None = None  # type: ignore[valid-type]
    both: float = 1.0  # type: ignore[assignment]  # after a type marker
    bare: bool = False
    nested: _Nested = _Nested()  # listed key by key


def test_meanings_come_from_descriptions_then_comments():
    assert config_docs.meanings(_Example) == {
        "inherited": "from the base class",
        "nested": "listed key by key",
        "described": "from the description",
        "commented": "from the trailing comment",
        "above": "from the lines above it",
        "both": "after a type marker",
        "bare": "",
    }
    table = "\n".join(config_docs.table(_Example, "x."))
    assert "| `x.described` | `int` (>= 0, < 5) | `1` | from the description |" in table
    assert "| `x.above` | `'a' \\| 'b' \\| None` | `None` |" in table
    assert "| `x.nested.inner` | `str` | `i` | from the nested schema |" in table
    assert "`x.nested` |" not in table
