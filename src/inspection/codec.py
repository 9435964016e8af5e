"""JSON-ready dicts of declarations and receipts (exact decimals as text, ISO times)."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from inspection.model import Declaration, DocKind, GoodsLine, Receipt

_DECIMAL_FIELDS = frozenset(
    f.name for f in fields(Declaration) if "Decimal" in str(f.type)
) | frozenset({"qty", "price", "total_price", "net_weight_kg"})
_LINE_FIELDS = tuple(f.name for f in fields(GoodsLine))


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def declaration_to_dict(decl: Declaration, *, with_extra: bool = True) -> dict[str, Any]:
    """Return a JSON-ready dict of a declaration; empty fields are left out."""
    out: dict[str, Any] = {}
    for f in fields(Declaration):
        value = getattr(decl, f.name)
        if f.name == "lines":
            out["lines"] = [
                {
                    k: _plain(getattr(line, k))
                    for k in _LINE_FIELDS
                    if getattr(line, k) not in ("", None)
                }
                for line in value
            ]
        elif f.name == "extra":
            if with_extra and value:
                out["extra"] = dict(value)
        elif value not in ("", None):
            out[f.name] = _plain(value)
    return out


def _dec(value: object) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _line(data: dict[str, Any]) -> GoodsLine:
    kw: dict[str, Any] = {k: (_dec(v) if k in _DECIMAL_FIELDS else v) for k, v in data.items()}
    return GoodsLine(**kw)


def declaration_from_dict(data: dict[str, Any]) -> Declaration:
    """Rebuild a declaration from ``declaration_to_dict`` output (raises ValueError if bad)."""
    kw: dict[str, Any] = {}
    for key, value in data.items():
        if key == "lines":
            kw["lines"] = tuple(_line(line) for line in value)
        elif key == "kind":
            kw["kind"] = DocKind(value)
        elif key == "decl_time":
            kw["decl_time"] = datetime.fromisoformat(value) if value else None
        elif key in _DECIMAL_FIELDS:
            kw[key] = _dec(value)
        else:
            kw[key] = value
    try:
        return Declaration(**kw)
    except TypeError as err:
        raise ValueError(f"not a declaration: {err}") from err


def receipt_to_dict(r: Receipt) -> dict[str, Any]:
    """Return a JSON-ready dict of a receipt."""
    return {f.name: _plain(getattr(r, f.name)) for f in fields(Receipt)}


def receipt_from_dict(data: dict[str, Any]) -> Receipt:
    """Rebuild a receipt from ``receipt_to_dict`` output."""
    kw = dict(data)
    kw["kind"] = DocKind(kw["kind"])
    kw["return_status"] = int(kw["return_status"])
    if kw.get("return_time"):
        kw["return_time"] = datetime.fromisoformat(kw["return_time"])
    return Receipt(**kw)
