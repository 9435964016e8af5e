"""Plain words for outcomes, reasons and edge events, for supervisors' pages and timelines."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from contracts.reasons import Outcome, Reason
from hub.web.i18n import N_
from inspection.masking import scrub

OUTCOME_WORDS: dict[str, str] = {
    Outcome.RELEASE: N_("released"),
    Outcome.INSPECT: N_("sent to manual inspection"),
    Outcome.HOLD: N_("held in the cage"),
    Outcome.RETURN: N_("returned to sender"),
    Outcome.REJECT: N_("rejected for a technical reason (manual coding or recirculation)"),
}

REASON_WORDS: dict[str, str] = {
    Reason.NOT_DECLARED: N_("no declaration was filed for this parcel"),
    Reason.CUSTOMS_PENDING: N_("customs has not decided yet"),
    Reason.CUSTOMS_REJECTED: N_("customs rejected the declaration"),
    Reason.CUSTOMS_INSPECT: N_("customs ordered an inspection"),
    Reason.CUSTOMS_DETAINED: N_("customs detained the parcel"),
    Reason.CUSTOMS_SUSPENDED: N_("customs suspended the declaration"),
    Reason.CUSTOMS_RETURN: N_("customs ordered a return to sender"),
    Reason.THREE_DOC_MISMATCH: N_("order, payment and waybill do not agree"),
    Reason.VALUE_LIMIT: N_("the transaction is over the retail value limit"),
    Reason.ANNUAL_LIMIT: N_("the buyer is over the annual limit"),
    Reason.PROHIBITED_GOODS: N_("the goods match a prohibited or restricted entry"),
    Reason.WEIGHT_DEVIATION: N_(
        "the measured weight is outside the tolerance of the declared weight"
    ),
    Reason.NO_WEIGHT: N_("the parcel could not be weighed"),
    Reason.UNSTABLE_WEIGHT: N_("the scale gave no stable weight"),
    Reason.XRAY_SUSPECT: N_("the X-ray image was marked suspect"),
    Reason.XRAY_PENDING: N_("the X-ray image is missing or waiting for review"),
    Reason.INSPECTOR_HOLD: N_("an inspector put the parcel on hold"),
    Reason.RANDOM_SELECTION: N_("picked by random selection"),
    Reason.DUPLICATE_PARCEL: N_("the same parcel code was already seen"),
    Reason.INVALID_CODE: N_("the code read fails its check digit"),
    Reason.NO_READ: N_("no code could be read"),
    Reason.MULTI_READ_CONFLICT: N_("two codes on the parcel point to different declarations"),
    Reason.LATE_DECISION: N_("the decision came after the sorter's deadline"),
    Reason.DEVICE_FAULT: N_("a device on the line was faulty"),
    Reason.DECLARATION_CONFLICT: N_("declarations for this parcel contradict each other"),
    Reason.TAX_MISMATCH: N_("the declared tax does not match the computed tax"),
}

CONFIRM_WORDS: dict[str, str] = {
    "diverted": N_("diverted into the chute"),
    "recirculated": N_("lane full, recirculated"),
    "no_answer": N_("no answer in time, sent to the reject chute"),
    "lost_track": N_("the sorter lost track of the parcel"),
    "aborted": N_("the divert was aborted"),
}


def _same(text: str) -> str:
    """No translation: the API speaks English."""
    return text


Tr = Callable[[str], str]


def reason_words(code: str, tr: Tr = _same) -> str:
    """Plain words for a reason code (the code itself when unknown)."""
    return tr(REASON_WORDS[code]) if code in REASON_WORDS else code


def outcome_words(code: str | None, tr: Tr = _same) -> str:
    """Plain words for an outcome (``not decided yet`` when None)."""
    if not code:
        return tr(N_("not decided yet"))
    return tr(OUTCOME_WORDS[code]) if code in OUTCOME_WORDS else code


def _text(value: Any) -> str:
    """A free-text field, with any long number masked."""
    return scrub(str(value)) if value is not None else ""


def event_summary(kind: str, data: dict[str, Any], item_id: int | None, tr: Tr = _same) -> str:
    """One sentence telling what an event means (weights in kg, latency in ms), via ``tr``."""
    device = data.get("device_id") or ""
    if kind == "parcel_seen":
        if item_id:
            return tr(N_("entered the line as item {item}")).format(item=item_id)
        return tr(N_("entered the site"))
    if kind == "code_read":
        codes = ", ".join(str(c) for c in data.get("codes") or []) or tr(N_("nothing"))
        return tr(N_("scanner {device} read {codes} ({status})")).format(
            device=device, codes=codes, status=data.get("status")
        )
    if kind == "weighed":
        weight = data.get("weight_kg")
        if weight is None:
            return tr(N_("scale {device} could not weigh the parcel")).format(device=device)
        stable = tr(N_("stable")) if data.get("stable") else tr(N_("not stable"))
        return tr(N_("scale {device} weighed {kg} kg ({stable})")).format(
            device=device, kg=f"{float(weight):.3f}", stable=stable
        )
    if kind == "imaged":
        pre = (
            tr(str(data.get("prescreen"))) if data.get("prescreen") else tr(N_("not pre-screened"))
        )
        return tr(N_("X-ray {device} took an image; pre-screen: {result}")).format(
            device=device, result=pre
        )
    if kind == "requested":
        return tr(N_("the sorter asked for a chute; {ms} ms left to answer")).format(
            ms=data.get("deadline_ms")
        )
    if kind == "decided":
        outcome = data.get("outcome")
        reasons = "; ".join(reason_words(str(r), tr) for r in data.get("reasons") or [])
        text = tr(N_("decision {outcome}: {words}")).format(
            outcome=outcome, words=outcome_words(outcome, tr)
        )
        return f"{text} — {reasons}" if reasons else text
    if kind == "diverted":
        return tr(N_("the sorter was told chute {chute}")).format(chute=data.get("chute"))
    if kind == "confirmed":
        status = str(data.get("status"))
        words = tr(CONFIRM_WORDS[status]) if status in CONFIRM_WORDS else status
        return tr(N_("the sorter confirmed chute {chute}: {words}")).format(
            chute=data.get("chute"), words=words
        )
    if kind == "device_state":
        state = tr(N_("online")) if data.get("online") else tr(N_("offline"))
        return (
            tr(N_("{kind} {device} went {state}")).format(
                kind=data.get("device_kind"), device=device, state=state
            )
            + " "
            + _text(data.get("detail"))
        ).strip()
    if kind == "verdict_applied":
        return tr(N_("inspector verdict '{verdict}' reached the line")).format(
            verdict=tr(str(data.get("verdict")))
        )
    if kind == "alarm":
        return tr(N_("alarm {name}: {detail}")).format(
            name=_text(data.get("alarm")), detail=_text(data.get("detail"))
        )
    return kind


#: The reason the review station records with a verdict (``hub.services.review``).
_REVIEW_WHY = re.compile(
    r"^image review: (?P<verdict>clear|suspect|hold)(?: \((?P<category>[^)]*)\))?(?P<note>; .*)?$",
    re.S,
)


def verdict_why(text: str, tr: Tr = _same) -> str:
    """A verdict's recorded reason in words: the review station's own, translated; a
    person's, as written."""
    m = _REVIEW_WHY.match(text or "")
    if m is None:
        return text
    said = tr(N_("image review: %(verdict)s")) % {"verdict": tr(m.group("verdict"))}
    if m.group("category"):
        said += f" ({tr(m.group('category'))})"
    return said + (m.group("note") or "")
