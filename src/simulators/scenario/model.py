"""Scenario payloads: the physical truth of each parcel, its expected decision, the summary."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from contracts.config import ConfigModel
from contracts.reasons import Outcome, Reason
from simulators.xray.contents import ParcelContents

#: Version of the scenario files (parcels.jsonl, expected.jsonl, scenario.json).
SCENARIO_VERSION = 1


class ScenarioError(ValueError):
    """A scenario cannot be generated as asked (bad arguments, mix or rules); says why."""


class Case(StrEnum):
    """How a parcel was constructed; each case has a known decision."""

    RELEASED = "released"
    RANDOM_SELECTION = "random_selection"
    UNDECLARED = "undeclared"
    CUSTOMS_INSPECT = "customs_inspect"
    CUSTOMS_DETAINED = "customs_detained"
    CUSTOMS_RETURNED = "customs_returned"
    CUSTOMS_SUSPENDED = "customs_suspended"
    CUSTOMS_REJECTED = "customs_rejected"
    CUSTOMS_PENDING = "customs_pending"
    WEIGHT_DEVIATION = "weight_deviation"
    PROHIBITED_HS = "prohibited_hs"
    PROHIBITED_KEYWORD_ZH = "prohibited_keyword_zh"
    PROHIBITED_KEYWORD_EN = "prohibited_keyword_en"
    VALUE_LIMIT = "value_limit"
    ANNUAL_LIMIT = "annual_limit"
    THREE_DOC_MISSING_PAYMENT = "three_doc_missing_payment"
    THREE_DOC_AMOUNT = "three_doc_amount"
    THREE_DOC_PAYER = "three_doc_payer"
    THREE_DOC_CONSIGNEE = "three_doc_consignee"
    XRAY_BLADE = "xray_blade"
    XRAY_GUN = "xray_gun"
    XRAY_DENSE_BLOCK = "xray_dense_block"
    XRAY_BATTERY = "xray_battery"
    NO_READ = "no_read"
    INVALID_CODE = "invalid_code"
    MULTI_READ_CONFLICT = "multi_read_conflict"
    DUPLICATE = "duplicate"
    POSTAL_RELEASED = "postal_released"
    POSTAL_HELD = "postal_held"
    EXPORT_RELEASED = "export_released"
    DECLARATION_CONFLICT = "declaration_conflict"
    TAX_MISMATCH = "tax_mismatch"
    SINGLE_ITEM = "single_item"
    POSTAL_HK_LIMIT = "postal_hk_limit"
    CANCELLED = "cancelled"
    CONSUMER_RETURN = "consumer_return"


class Route(StrEnum):
    """The flow a parcel arrives by."""

    IMPORT_9610 = "import-9610"  # CBEC direct import
    IMPORT_1210 = "import-1210"  # CBEC bonded import
    EXPORT_9610 = "export-9610"  # CBEC retail export (CEB603)
    POSTAL = "postal"  # international mail (S10 ids, CN22/CN23)


class _Payload(ConfigModel):
    """Strict, frozen configuration (see ``contracts.config``)."""


class ParcelTruth(_Payload):
    """The physical truth of one parcel, one line of ``parcels.jsonl`` (induction order)."""

    version: Literal[1] = Field(1, description="Payload version.")
    seq: int = Field(ge=1, description="Induction order, 1-based.")
    labels: tuple[str, ...] = Field(
        description="Codes as printed on the parcel: empty = no label, a damaged S10 id, "
        "or two labels of two different declarations."
    )
    weight_kg: float = Field(gt=0, description="True gross weight, kg (weighed stably).")
    contents: ParcelContents = Field(description="What is physically inside.")
    xray_threat: bool = Field(description="X-ray ground truth: a threat is inside.")
    route: Route = Field(description="The flow the parcel arrives by.")
    case: Case = Field(description="The case the parcel was constructed as.")
    variant: str = Field("", description="Which variant of the case (status, role, ...).")
    duplicate_of: int | None = Field(
        None, ge=1, description="seq of the earlier parcel that carries the same label."
    )


class Expected(_Payload):
    """The decision a parcel must get, one line of ``expected.jsonl``."""

    version: Literal[1] = Field(1, description="Payload version.")
    seq: int = Field(ge=1, description="Induction order, 1-based (joins ParcelTruth.seq).")
    code: str = Field(
        description="Primary code: the parcel's own declaration code (logisticsNo or S10 id), "
        "or the printed code when nothing was filed."
    )
    outcome: Outcome = Field(description="The outcome the decision must give.")
    reasons: tuple[Reason, ...] = Field(description="Reasons that must be among the decision's.")
    case: Case = Field(description="The case the parcel was constructed as.")
    variant: str = Field("", description="Which variant of the case.")


class Summary(_Payload):
    """What ``scenario.json`` records about a generated scenario."""

    version: Literal[1] = Field(1, description="Payload version.")
    seed: int = Field(description="Seed the scenario was generated from.")
    parcels: int = Field(ge=1, description="Number of parcels.")
    rules_version: str = Field(description="Version of the rules the outcomes assume.")
    rules_digest: str = Field(description="sha256 of the rules file the outcomes assume.")
    mix: dict[Case, float] = Field(description="Share of parcels asked for per case.")
    counts: dict[Case, int] = Field(description="Parcels per case.")
    outcomes: dict[Outcome, int] = Field(description="Parcels per expected outcome.")
    reasons: dict[Reason, int] = Field(description="Parcels expecting each reason.")
    files: dict[str, int] = Field(description="Records written per file (relative path).")
    skipped: dict[Case, str] = Field(
        default_factory=dict, description="Cases the rules make impossible, with why."
    )
    assumptions: tuple[str, ...] = Field(description="What the expected outcomes assume.")
