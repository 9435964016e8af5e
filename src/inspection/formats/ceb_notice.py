"""Turn one record of a message read for the record only (CEB513/623-626/900) into a Notice."""

from __future__ import annotations

from lxml import etree

from inspection.formats.ceb_build import (
    _REQUIRED,
    _check_code,
    _local,
    _parse_status,
    _parse_time,
    _RejectedError,
)
from inspection.formats.ceb_fields import NoticeSpec, business_key
from inspection.model import Notice, RecordError


class NoticeBuilder:
    """Builds notices (CEB513/623-626/900): read and kept, no status set by themselves."""

    def __init__(self, spec: NoticeSpec) -> None:
        """Keep ``spec``."""
        self.spec = spec

    def build(self, index: int, record: etree._Element) -> Notice | RecordError:
        """Notice for the record element, or why record ``index`` (1-based) is rejected."""
        raw = {
            _local(child.tag): (child.text or "").strip()
            for child in record.iter()
            if isinstance(child.tag, str) and child is not record and len(child) == 0
        }
        try:
            return self._finish(raw)
        except _RejectedError as rejected:
            return RecordError(index, rejected.field, rejected.reason)

    def _finish(self, raw: dict[str, str]) -> Notice:
        spec = self.spec
        if not spec.key[0]:
            return self._refusal(raw)
        code, number = (raw.get(name, "") for name in spec.key)
        invt_no = raw.get("invtNo", "")
        if not (code and number) and not invt_no:
            missing = spec.key[0] if not code else spec.key[1]
            raise _RejectedError(f"{spec.record}.{missing}", _REQUIRED)
        _check_code(code, f"{spec.record}.{spec.key[0]}")
        status = raw.get(spec.status, "") if spec.status else ""
        if spec.status and not status:
            raise _RejectedError(f"{spec.record}.{spec.status}", _REQUIRED)
        if spec.status == "returnStatus":
            _parse_status(status, spec.record, "returnStatus")
        when = raw.get(spec.time, "") if spec.time else ""
        return Notice(
            message_type=spec.message_type,
            business_key=business_key(code, number) if code and number else "",
            invt_no=invt_no,
            order_no=raw.get("orderNo", ""),
            logistics_no=raw.get("logisticsNo", ""),
            status=status,
            time=_parse_time(when, spec.record, spec.time) if when else None,
            info=raw.get(spec.info, "") if spec.info else "",
            fields=raw,
        )

    def _refusal(self, raw: dict[str, str]) -> Notice:
        """A CEB900: the refused message is named by ``guid``; its returnStatus is an error."""
        spec = self.spec
        guid = raw.get(spec.key[1], "")
        if not guid:
            raise _RejectedError(f"{spec.record}.{spec.key[1]}", _REQUIRED)
        status = raw.get(spec.status, "")
        if not status:
            raise _RejectedError(f"{spec.record}.{spec.status}", _REQUIRED)
        _parse_status(status, spec.record, spec.status)
        when = raw.get(spec.time, "")
        return Notice(
            message_type=spec.message_type,
            business_key="",
            status=status,
            time=_parse_time(when, spec.record, spec.time) if when else None,
            info=raw.get(spec.info, ""),
            fields=raw,
        )
