"""Masking of identity numbers, phones, names and addresses for logs, UI lists and exports."""

from __future__ import annotations

import re
from dataclasses import replace

from inspection.model import Declaration, Receipt

_DIGITS = re.compile(r"\d")
#: A free-standing run of six or more digits (ids, phones, account numbers).
_LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6,}[\dXx]?)(?![0-9A-Za-z])")
#: An identity number (18 or 15 characters) or a mobile number, even glued to letters
#: (``P610104199909091234``, ``tel13800138000``).
_GLUED = re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15}|1[3-9]\d{9})(?![\dXx])")
#: Digit groups split by hyphens or single spaces (``138-0013-8000``, ``0571 8888 1234``).
_SPLIT = re.compile(r"(?<![0-9A-Za-z:.])\+?\d{1,4}(?:[- ]\d{2,8}){1,5}(?![0-9A-Za-z:.])")
_SPLIT_MIN_DIGITS = 10
_ADDRESS_KEEP = 6


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


def mask_address(value: str | None) -> str:
    """Mask an address, keeping its first six characters (province and city)."""
    if not value:
        return ""
    v = value.strip()
    return v[:_ADDRESS_KEEP] + "*" * max(len(v) - _ADDRESS_KEEP, 1)


def _split(m: re.Match[str]) -> str:
    text = m.group(0)
    digits = sum(c.isdigit() for c in text)
    if digits < _SPLIT_MIN_DIGITS:
        return text
    seen, out = 0, []
    for c in text:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= 3 or seen > digits - 2 else "*")
        else:
            out.append(c)
    return "".join(out)


def scrub(text: str) -> str:
    """Mask identity and phone numbers inside free text: long digit runs, ids and mobiles
    glued to letters, and numbers split by hyphens or spaces."""
    text = _GLUED.sub(lambda m: mask_id(m.group(1)), text)
    text = _LONG_NUMBER.sub(lambda m: mask_id(m.group(1)), text)
    return _SPLIT.sub(_split, text)


def mask_declaration(decl: Declaration) -> Declaration:
    """A copy fit for a role that may not see personal data: ids, names, phones, addresses,
    sender and addressee masked; free text (goods names, ``extra``) scrubbed."""
    return replace(
        decl,
        buyer_id_number=mask_id(decl.buyer_id_number),
        payer_id_number=mask_id(decl.payer_id_number),
        buyer_name=mask_name(decl.buyer_name),
        payer_name=mask_name(decl.payer_name),
        consignee=mask_name(decl.consignee),
        buyer_telephone=mask_phone(decl.buyer_telephone),
        consignee_telephone=mask_phone(decl.consignee_telephone),
        consignee_address=mask_address(decl.consignee_address),
        sender=mask_name(decl.sender),
        addressee=mask_name(decl.addressee),
        lines=tuple(
            replace(line, name=scrub(line.name), model=scrub(line.model)) for line in decl.lines
        ),
        extra={k: scrub(v) for k, v in decl.extra.items()},
    )


def mask_receipt(receipt: Receipt) -> Receipt:
    """A copy of a receipt whose ``returnInfo`` (customs' free text) is scrubbed."""
    return replace(receipt, return_info=scrub(receipt.return_info))
