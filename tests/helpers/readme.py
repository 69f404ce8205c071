"""The README's and docs/ pages' sections and bash commands, read as a user reads them."""

from __future__ import annotations

import re

from tests.helpers.real import REPO


def readme_section(title: str, doc: str = "README.md") -> str:
    """A ``## title`` section of the README or of a page in docs/ (``doc="docs/x.md"``)."""
    text = (REPO / doc).read_text()
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def readme_commands(title: str, doc: str = "README.md") -> list[str]:
    """The bash commands of a README (or docs/) section, continuation lines joined, comments
    dropped."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", readme_section(title, doc), re.S):
        for cmd in block.replace("\\\n", " ").splitlines():
            cmd = cmd.split(" # ")[0].strip()
            if cmd and not cmd.startswith("#"):
                out.append(" ".join(cmd.split()))
    return out
