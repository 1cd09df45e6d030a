"""The how-to's sampler example is the file its commands run (docs/how-to/my_sd.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_shows_the_file_its_commands_run():
    page = (ROOT / "docs" / "how-to" / "audit.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    source = (ROOT / "docs" / "how-to" / "my_sd.py").read_text()
    assert source in blocks
    assert "specproof audit sampler my_sd:verify" in page
