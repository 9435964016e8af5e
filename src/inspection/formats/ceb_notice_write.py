"""Writing notices as CEB messages: CEB623/625 requests and CEB624/626 customs answers.

Each record's elements follow the published order of its message (the subset a notice
carries, see ``docs/formats-ceb.md``); a value the notice does not hold is written as an
empty element. Times are written in the specification's form: ``appTime``
``yyyyMMddHHmmss``, ``returnTime`` ``yyyyMMddHHmmssSSS`` (China time).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import BinaryIO

from inspection.formats.ceb_fields import BASE_TRANSFER, CEB_NS
from inspection.formats.ceb_write import TIME_DIGITS, _element, _escape, format_time
from inspection.model import FormatError, Notice

_REQUEST = (
    "guid", "appType", "appTime", "appStatus", "customsCode", "orderNo", "ebpCode", "ebcCode",
    "logisticsNo", "logisticsCode", "copNo", "preNo", "invtNo", "buyerIdType", "buyerIdNumber",
    "buyerName", "agentCode", "reason", "note",
)  # fmt: skip
_ANSWER = (
    "guid", "customsCode", "ebpCode", "ebcCode", "agentCode", "copNo", "preNo", "invtNo",
    "returnStatus", "returnTime", "returnInfo",
)  # fmt: skip

#: Per message type: the wrapping elements of one record and its elements in order.
LAYOUT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "CEB623": (("InvtCancel",), _REQUEST),
    "CEB624": (("InvtCancelReturn",), _ANSWER),
    "CEB625": (("InvtRefund", "InvtRefundHead"), _REQUEST),
    "CEB626": (("InvtRefundReturn",), _ANSWER),
}


def _values(notice: Notice) -> dict[str, str]:
    """The notice's element texts: its fields, with its own status, time and info on top."""
    values = dict(notice.fields)
    if notice.time is not None:
        name = "returnTime" if notice.message_type in ("CEB624", "CEB626") else "appTime"
        values[name] = format_time(notice.time, TIME_DIGITS[name])
    if notice.status:
        values["returnStatus"] = notice.status
    if notice.info:
        key = "returnInfo" if notice.message_type in ("CEB624", "CEB626") else "reason"
        values[key] = notice.info
    if notice.invt_no:
        values["invtNo"] = notice.invt_no
    if notice.order_no:
        values["orderNo"] = notice.order_no
    if notice.logistics_no:
        values["logisticsNo"] = notice.logistics_no
    if notice.business_key and ":" in notice.business_key:
        values["agentCode"], values["copNo"] = notice.business_key.split(":", 1)
    return values


def write_notices(
    stream: BinaryIO,
    message_type: str,
    notices: Iterable[Notice],
    *,
    guid: str | None = None,
    cop_code: str = "0000000000",
    cop_name: str = "",
) -> int:
    """Write ``notices`` as one CEB message of ``message_type`` (UTF-8); return how many."""
    kind = message_type.strip().upper()
    if kind not in LAYOUT:
        raise FormatError(f"notices of type {message_type!r} are not written here")
    wrappers, names = LAYOUT[kind]
    head = guid or str(uuid.uuid4()).upper()
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<ceb:{kind}Message xmlns:ceb="{CEB_NS}" guid="{_escape(head)}" version="1.0">\n',
    ]
    count = 0
    for notice in notices:
        if notice.message_type != kind:
            raise FormatError(f"record {count + 1}: a {notice.message_type} in a {kind} message")
        values = _values(notice)
        out.extend(f"<ceb:{w}>" for w in wrappers)
        out.extend(_element(n, _escape(values.get(n, ""))) for n in names)
        out.extend(f"</ceb:{w}>" for w in reversed(wrappers))
        out.append("\n")
        count += 1
    if kind in ("CEB623", "CEB625"):  # requests carry the sender's transfer block
        base = (cop_code, cop_name, "DXP", "DXPENT0000000000", "")
        out.append("<ceb:BaseTransfer>")
        out.extend(_element(n, _escape(v)) for n, v in zip(BASE_TRANSFER, base, strict=True))
        out.append("</ceb:BaseTransfer>\n")
    out.append(f"</ceb:{kind}Message>\n")
    stream.write("".join(out).encode("utf-8"))
    return count
