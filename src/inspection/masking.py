"""Masking of identity and phone numbers for logs, UI lists and exports."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")
_LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6,}[\dXx]?)(?![0-9A-Za-z])")


def mask_id(value: str | None) -> str:
    """Mask an identity number, keeping its first 3 and last 2 characters (or less)."""
    if not value:
        return ""
    v = value.strip()
    if len(v) <= 4:
        return "*" * len(v)
    keep_head = 3 if len(v) >= 10 else 1
    return v[:keep_head] + "*" * (len(v) - keep_head - 2) + v[-2:]


def mask_phone(value: str | None) -> str:
    """Mask a phone number, keeping its first 3 and last 4 digits when it is long enough."""
    if not value:
        return ""
    v = value.strip()
    if len(v) < 8:
        return _DIGITS.sub("*", v)
    return v[:3] + _DIGITS.sub("*", v[3:-4]) + v[-4:]


def mask_name(value: str | None) -> str:
    """Mask a person's name, keeping its first character."""
    if not value:
        return ""
    v = value.strip()
    return v[:1] + "*" * max(len(v) - 1, 1)


def scrub(text: str) -> str:
    """Mask every run of six or more digits (ids, phones) inside free text."""
    return _LONG_NUMBER.sub(lambda m: mask_id(m.group(1)), text)
