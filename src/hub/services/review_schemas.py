"""Models of the review station, the manual-inspection desk and inspector statistics."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import VerdictKind
from hub.services.parcel_schemas import Comparison, DeclarationView, ReasonView, VerdictView
from hub.web.i18n import N_

#: Suspect categories: stable code → words; the review station numbers them 1..9 in this order.
CATEGORIES: dict[str, str] = {
    "declaration_mismatch": N_("Goods do not match the declaration"),
    "weapon": N_("Weapon, blade or part of one"),
    "battery": N_("Lithium batteries or other dangerous goods"),
    "drugs": N_("Suspected drugs or concealed organic matter"),
    "dense_object": N_("Dense or opaque object hides the contents"),
    "currency": N_("Currency, gold or other valuables"),
    "plants_animals": N_("Plants, animals, seeds or food"),
    "quantity": N_("More goods than declared"),
    "other": N_("Other: open and inspect"),
}

#: What each pre-screen flag means, in words for the inspector: the hub's image flags, the
#: edge's signatures and the edge's flags of an image it could not screen.
FLAG_WORDS: dict[str, str] = {
    "IMPENETRABLE": N_("X-rays do not get through: cannot be cleared by image"),
    "DENSE_METAL": N_("a large metal mass that can hide other things"),
    "BATTERY": N_("lithium-cell signature"),
    "BLADE": N_("thin, straight, elongated steel (blade-like)"),
    "GUN": N_("thick barrel with a grip at an angle (gun-like)"),
    "DECLARATION_MISMATCH": N_("the image contradicts the declared goods"),
    "HIGH_Z": N_("lead, tungsten or the like: off the organic-to-steel range"),
    "EDGE_BLADE": N_("a thin dense straight line (a blade seen on its edge)"),
    "THICK_METAL": N_("thick metal that can hide other things"),
    "STRIP": N_("a narrow even steel strip or rod (shank, umbrella shaft, zip)"),
    "METAL": N_("a metal region"),
    "LIQUID": N_("thick organic matter (liquid-like)"),
    "UNCALIBRATED": N_("the machine has no usable calibration: the image waits for review"),
    "COARSE_IMAGE": N_("pixels too coarse to rule out a blade: the image waits for review"),
    "UNREADABLE": N_("the image could not be read: it waits for review"),
    "LEAD_BLIND": N_(
        "this machine reads lead like matter in this image (organic matter, or a declared "
        "item's metal), so lead cannot be ruled out: the image waits for review"
    ),
}


class QueueStatus(StrEnum):
    """Where an unreviewed image stands against its parcel's deadline."""

    PENDING = "pending"  # the parcel still waits: a verdict can still decide this pass
    HELD = "held"  # the estimated deadline passed and no decision is known: the edge holds it
    DECIDED = "decided"  # the edge answered the PLC: a verdict can no longer change the pass
    REVIEWED = "reviewed"  # an inspector gave the verdict


class QueueEntry(BaseModel):
    """One image waiting for an inspector; times UTC, ``seconds_left`` in seconds."""

    image_id: UUID
    site: str
    device_id: str
    item_id: int
    parcel_code: str | None
    received_at: datetime
    state: str = Field(description="Pre-screen state: SUSPECT (an alarm) or PENDING.")
    risk: float = Field(description="Pre-screen risk score, 0..1.")
    alarms: list[str] = Field(description="Flag kinds at alarm level.")
    flags: list[str] = Field(description="Every flag kind found.")
    deadline: datetime = Field(description="When the parcel passes its decision point.")
    deadline_source: str = Field(description="decision (the PLC's request) or budget.")
    seconds_left: float = Field(description="Seconds to the deadline (negative: passed).")
    status: QueueStatus
    edge_outcome: str | None = Field(description="The edge's decision for the pass, if any.")
    edge_reasons: list[str]
    edge_chute: int | None = Field(None, description="The chute the edge sent the parcel to.")
    decided_at: datetime | None = Field(None, description="When the edge decided the pass.")
    verdict: str | None = Field(None, description="The inspector's verdict, once given.")
    reviewed_by: str | None = Field(None, description="Who gave it.")
    reviewed_at: datetime | None = Field(None, description="When.")


class ReviewQueue(BaseModel):
    """The review queue (``waiting``: parcels that still wait, least time left first) or its
    history (reviewed or decided without a verdict, newest first); ``now`` is hub time."""

    now: datetime
    view: str = Field("waiting", description="waiting or history.")
    pending: int
    held: int
    history: int = Field(0, description="Images in the history of the queue window.")
    items: list[QueueEntry]


class FlagView(BaseModel):
    """One pre-screen flag with its region ``[x, y, w, h]`` in image pixels."""

    kind: str
    words: str
    score: float
    alarm: bool
    region: list[int]
    value: float
    detail: str


class Category(BaseModel):
    """A suspect category and the digit key that picks it."""

    key: int
    code: str
    words: str


class ReviewDetail(BaseModel):
    """One image for review: flags with regions, the declaration beside it, credit grade."""

    entry: QueueEntry
    width: int = Field(description="Image width, pixels.")
    height: int = Field(description="Image height (one energy channel), pixels.")
    flags: list[FlagView]
    shares: dict[str, Any] = Field(description="Material shares of the imaged matter.")
    blockers: list[str] = Field(description="Why the image was not cleared automatically.")
    verdict: str | None
    reviewed_by: str | None
    declaration: DeclarationView | None
    credit_grade: str | None = Field(description="advanced, general or dishonest.")
    comparisons: list[Comparison]
    views: list[str]
    categories: list[Category]


class ReviewVerdictIn(BaseModel):
    """The inspector's verdict on one image: clear, suspect (with a category) or hold."""

    model_config = ConfigDict(extra="forbid")

    verdict: VerdictKind
    category: str = Field("", max_length=64, description="Suspect category code.")
    note: str = Field("", max_length=500, description="Optional words for the audit log.")


class ReviewVerdictOut(BaseModel):
    """A recorded image verdict and whether the broker acknowledged it already."""

    image_id: UUID
    parcel_code: str
    verdict: VerdictView
    published: bool


class DeskResult(StrEnum):
    """Results of a manual inspection at the desk."""

    CONSISTENT = "consistent"
    INCONSISTENT = "inconsistent"
    SEIZED = "seized"
    RETURN = "return"
    RELEASE_AFTER_INSPECTION = "release_after_inspection"


#: Words of each desk result, in the order the desk offers them.
RESULT_WORDS: dict[DeskResult, str] = {
    DeskResult.CONSISTENT: N_("Consistent with the declaration"),
    DeskResult.INCONSISTENT: N_("Inconsistent with the declaration"),
    DeskResult.SEIZED: N_("Seized"),
    DeskResult.RETURN: N_("Return to sender"),
    DeskResult.RELEASE_AFTER_INSPECTION: N_("Release after inspection"),
}


class DeskResultIn(BaseModel):
    """A manual-inspection result with the reason for the record."""

    model_config = ConfigDict(extra="forbid")

    result: DeskResult
    why: str = Field(min_length=1, max_length=1000, description="What was found, for the audit.")


class DeskResultView(BaseModel):
    """A recorded manual-inspection result and the outcome it set."""

    result_id: UUID
    result: str
    words: str
    outcome: str
    inspector: str
    why: str
    at: datetime


class ImageSummary(BaseModel):
    """An image of the parcel as the desk lists it."""

    image_id: UUID
    received_at: datetime
    state: str
    verdict: str | None
    category: str
    flags: list[FlagView]
    width: int
    height: int


class DeskView(BaseModel):
    """Why a parcel is at the desk: its decision, verdicts, images, declaration and results."""

    parcel_code: str
    status: str = Field(description="The parcel's outcome now (after any desk result).")
    status_words: str
    reasons: list[ReasonView]
    decided_at: datetime | None
    verdicts: list[VerdictView]
    images: list[ImageSummary]
    declaration: DeclarationView | None
    credit_grade: str | None
    comparisons: list[Comparison]
    results: list[DeskResultView]
    choices: dict[str, str]


class InspectorStats(BaseModel):
    """One inspector's work in the window; rates per hour, times in seconds."""

    inspector: str
    images_reviewed: int
    cleared: int
    suspect: int
    held: int
    images_per_hour: float | None = Field(description="Images over the active span.")
    median_decision_s: float | None = Field(description="Open → verdict, median.")
    agreement: float | None = Field(description="Share agreeing with the pre-screen, 0..1.")
    compared: int = Field(description="Images counted in the agreement.")
    desk_results: int


class InspectorStatsPage(BaseModel):
    """Statistics per inspector over ``[since, until)`` (UTC)."""

    since: datetime
    until: datetime
    inspectors: list[InspectorStats]
