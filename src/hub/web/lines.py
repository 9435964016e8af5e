"""The line page for operators: a live view of every sorting line."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub.api.lines import SUMMARY_PATH, LineViewDep
from hub.deps import CurrentUser
from hub.web import i18n
from hub.web.i18n import N_
from hub.web.shell import page
from hub.web.wording import REASON_WORDS

router = APIRouter(tags=["line page"])

#: Every alarm the line page knows, in words (the summary gives English titles).
ALARM_TITLES: dict[str, str] = {
    "late_reply": N_("Late or missing answers to the sorter"),
    "confirm_mismatch": N_("Parcel went to another chute than answered"),
    "release_without_decision": N_("Parcel reached a release chute without a RELEASE decision"),
    "no_read_rate": N_("No-read rate above the threshold"),
    "device_offline": N_("Device offline"),
    "lost_track": N_("The sorter lost track of a parcel"),
    "aborted": N_("A divert was aborted"),
    "recirculation_limit": N_("A parcel recirculated too often"),
    "unknown_status": N_("The sorter sent an unknown confirmation status"),
    "contradicting_decisions": N_("The sorter was told two different things about one parcel"),
    "lost_confirms": N_("Divert confirmations lost while the edge was away"),
    "no_answer": N_("No answer in time: parcel sent to the reject chute"),
    "verdict_refused": N_("The edge refused a verdict (signature, time or parcel wrong)"),
    "verdict_flood": N_("Many verdicts refused: someone may be sending forged ones"),
    "verdict_late": N_("A verdict came after its parcel was decided (a late review)"),
}
#: The work list that shows the parcels behind an alarm.
ALARM_LISTS: dict[str, str] = {
    "late_reply": "/work?reason=LATE_DECISION",
    "no_read_rate": "/work?reason=NO_READ",
}


@router.get("/lines", response_class=HTMLResponse, summary="Line page (live)")
def lines_page(view: LineViewDep, request: Request, caller: CurrentUser) -> HTMLResponse:
    """The operators' line page: first drawn from an embedded summary, then polled live."""
    with i18n.speaking(i18n.choose(request)):
        titles = {k: i18n.gettext(v) for k, v in ALARM_TITLES.items()}
        reasons = {k: i18n.gettext(v) for k, v in REASON_WORDS.items()}
    return page(
        request,
        "line.html",
        caller,
        site=view.site,
        window_min=view.window_min,
        summary=view.summary.model_dump(mode="json"),
        summary_path=SUMMARY_PATH,
        poll_ms=int(view.thresholds.poll_interval_s * 1000),
        alarm_titles=titles,
        alarm_lists=ALARM_LISTS,
        reason_words=reasons,
        headers={"Cache-Control": "no-store"},
    )
