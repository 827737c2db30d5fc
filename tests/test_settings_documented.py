"""Every variable settings.py reads is documented in .env.example, so operators see them all."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_every_setting_read_from_the_environment_is_in_env_example() -> None:
    source = (ROOT / "headroom_site" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    assert read and read <= documented, sorted(read - documented)
