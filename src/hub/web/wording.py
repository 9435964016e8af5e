"""Plain words for outcomes, reasons and edge events, for supervisors' pages and timelines."""

from __future__ import annotations

from typing import Any

from contracts.reasons import Outcome, Reason
from inspection.masking import scrub

OUTCOME_WORDS: dict[str, str] = {
    Outcome.RELEASE: "released",
    Outcome.INSPECT: "sent to manual inspection",
    Outcome.HOLD: "held in the cage",
    Outcome.RETURN: "returned to sender",
    Outcome.REJECT: "rejected for a technical reason (manual coding or recirculation)",
}

REASON_WORDS: dict[str, str] = {
    Reason.NOT_DECLARED: "no declaration was filed for this parcel",
    Reason.CUSTOMS_PENDING: "customs has not decided yet",
    Reason.CUSTOMS_REJECTED: "customs rejected the declaration",
    Reason.CUSTOMS_INSPECT: "customs ordered an inspection",
    Reason.CUSTOMS_DETAINED: "customs detained the parcel",
    Reason.CUSTOMS_SUSPENDED: "customs suspended the declaration",
    Reason.CUSTOMS_RETURN: "customs ordered a return to sender",
    Reason.THREE_DOC_MISMATCH: "order, payment and waybill do not agree",
    Reason.VALUE_LIMIT: "the transaction is over the retail value limit",
    Reason.ANNUAL_LIMIT: "the buyer is over the annual limit",
    Reason.PROHIBITED_GOODS: "the goods match a prohibited or restricted entry",
    Reason.WEIGHT_DEVIATION: "the measured weight is outside the tolerance of the declared weight",
    Reason.NO_WEIGHT: "the parcel could not be weighed",
    Reason.UNSTABLE_WEIGHT: "the scale gave no stable weight",
    Reason.XRAY_SUSPECT: "the X-ray image was marked suspect",
    Reason.XRAY_PENDING: "the X-ray image is missing or waiting for review",
    Reason.INSPECTOR_HOLD: "an inspector put the parcel on hold",
    Reason.RANDOM_SELECTION: "picked by random selection",
    Reason.DUPLICATE_PARCEL: "the same parcel code was already seen",
    Reason.INVALID_CODE: "the code read fails its check digit",
    Reason.NO_READ: "no code could be read",
    Reason.MULTI_READ_CONFLICT: "two codes on the parcel point to different declarations",
    Reason.LATE_DECISION: "the decision came after the sorter's deadline",
    Reason.DEVICE_FAULT: "a device on the line was faulty",
    Reason.DECLARATION_CONFLICT: "two live declarations claim this parcel",
    Reason.TAX_MISMATCH: "the declared tax differs from the tax the rules compute",
}

CONFIRM_WORDS: dict[str, str] = {
    "diverted": "diverted into the chute",
    "recirculated": "lane full, recirculated",
    "no_answer": "no answer in time, sent to the reject chute",
    "lost_track": "the sorter lost track of the parcel",
    "aborted": "the divert was aborted",
}


def reason_words(code: str) -> str:
    """Plain words for a reason code (the code itself when unknown)."""
    return REASON_WORDS.get(code, code)


def outcome_words(code: str | None) -> str:
    """Plain words for an outcome (``not decided yet`` when None)."""
    if not code:
        return "not decided yet"
    return OUTCOME_WORDS.get(code, code)


def _text(value: Any) -> str:
    """A free-text field, with any long number masked."""
    return scrub(str(value)) if value is not None else ""


def event_summary(kind: str, data: dict[str, Any], item_id: int | None) -> str:
    """One sentence telling what an event means (weights in kg, latency in ms)."""
    device = data.get("device_id") or ""
    if kind == "parcel_seen":
        return f"entered the line as item {item_id}" if item_id else "entered the site"
    if kind == "code_read":
        codes = ", ".join(str(c) for c in data.get("codes") or []) or "nothing"
        return f"scanner {device} read {codes} ({data.get('status')})"
    if kind == "weighed":
        weight = data.get("weight_kg")
        stable = "stable" if data.get("stable") else "not stable"
        if weight is None:
            return f"scale {device} could not weigh the parcel"
        return f"scale {device} weighed {float(weight):.3f} kg ({stable})"
    if kind == "imaged":
        pre = data.get("prescreen") or "not pre-screened"
        return f"X-ray {device} took an image; pre-screen: {pre}"
    if kind == "decided":
        reasons = "; ".join(reason_words(r) for r in data.get("reasons") or [])
        text = f"decision {data.get('outcome')}: {outcome_words(data.get('outcome'))}"
        return f"{text} — {reasons}" if reasons else text
    if kind == "diverted":
        return f"the sorter was told chute {data.get('chute')}"
    if kind == "confirmed":
        status = str(data.get("status"))
        return (
            f"the sorter confirmed chute {data.get('chute')}: {CONFIRM_WORDS.get(status, status)}"
        )
    if kind == "device_state":
        state = "online" if data.get("online") else "offline"
        return (
            f"{data.get('device_kind')} {device} went {state} {_text(data.get('detail'))}".strip()
        )
    if kind == "verdict_applied":
        return f"inspector verdict '{data.get('verdict')}' reached the line"
    if kind == "alarm":
        return f"alarm {_text(data.get('alarm'))}: {_text(data.get('detail'))}"
    return kind
