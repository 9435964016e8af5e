"""Personal data as a role that may not see it gets it: declarations, lines, extra, receipts.

Identity numbers, phones, names and addresses are masked field by field; free text (goods
names and models, ``extra`` source fields, customs' ``returnInfo``) is scrubbed of the
numbers inside it. Keys and codes (business keys, waybill numbers) are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.db.auth_models import Role
from hub.services.auth import Principal
from inspection.masking import mask_address, mask_id, mask_name, mask_phone, scrub

ID_FIELDS = ("buyer_id_number", "payer_id_number")
PHONE_FIELDS = ("buyer_telephone", "consignee_telephone")
NAME_FIELDS = ("buyer_name", "payer_name", "consignee", "sender", "addressee")
ADDRESS_FIELDS = ("consignee_address",)
#: Free-text fields of a goods line.
LINE_TEXT = ("name", "model")
#: ``extra`` keys (as dotted by the readers) that hold an address, a name or a number.
_EXTRA_ADDRESS = ("address",)
_EXTRA_NAME = ("name", "buyerName", "payerName", "consignee")
_EXTRA_ID = ("id_number", "idNumber", "buyerIdNumber", "payerIdNumber")


def sees_personal_data(principal: Principal) -> bool:
    """Whether ``principal`` may see personal data: supervisors, admins, the owning filer."""
    return principal.role in (Role.SUPERVISOR, Role.ADMIN, Role.FILER)


def mask_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """A declaration's fields with ids, phones, names and addresses masked."""
    out = dict(values)
    for name in ID_FIELDS:
        if name in out:
            out[name] = mask_id(out[name])
    for name in PHONE_FIELDS:
        if name in out:
            out[name] = mask_phone(out[name])
    for name in NAME_FIELDS:
        if name in out:
            out[name] = mask_name(out[name])
    for name in ADDRESS_FIELDS:
        if name in out:
            out[name] = mask_address(out[name])
    return out


def mask_extra(extra: Mapping[str, str]) -> dict[str, str]:
    """``extra`` source fields masked by what their key says they hold, else scrubbed."""
    out: dict[str, str] = {}
    for key, value in extra.items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf in _EXTRA_ADDRESS or leaf.lower().endswith("address"):
            out[key] = mask_address(value)
        elif leaf in _EXTRA_ID:
            out[key] = mask_id(value)
        elif leaf in _EXTRA_NAME:
            out[key] = mask_name(value)
        elif leaf.lower().endswith(("phone", "telephone")):
            out[key] = mask_phone(value)
        else:
            out[key] = scrub(value)
    return out


def mask_line(values: Mapping[str, Any]) -> dict[str, Any]:
    """A goods line with its free text scrubbed."""
    out = dict(values)
    for name in LINE_TEXT:
        if isinstance(out.get(name), str):
            out[name] = scrub(out[name])
    return out
