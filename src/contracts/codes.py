"""Scanned code text as it arrives: the optional AIM identifier (ISO/IEC 15424) in front."""

from __future__ import annotations

import re

#: An AIM symbology identifier: ``]``, a code character, a modifier character.
AIM_PREFIX = re.compile(r"\][A-Za-z][0-9A-Za-z]")


def strip_aim(code: str) -> str:
    """Return the code without its leading AIM identifier (``]Xn``), if it has one."""
    return code[3:] if AIM_PREFIX.match(code) else code
