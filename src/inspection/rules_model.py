"""The rules file schema: a versioned YAML edited by supervisors and synced to every edge."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field, field_validator

from contracts.config import ConfigModel


class Grade(StrEnum):
    """Enterprise credit grade under customs credit management."""

    ADVANCED = "advanced"  # advanced-certified (AEO)
    GENERAL = "general"
    DISHONEST = "dishonest"


class _Strict(ConfigModel):
    """Strict, frozen configuration (see ``contracts.config``)."""


class Tolerance(_Strict):
    """Weight tolerance: the larger of an absolute and a relative allowance."""

    abs_g: float = Field(ge=0, title="Absolute tolerance", description="Grams either way.")
    rel: float = Field(
        ge=0, le=1, title="Relative tolerance", description="Share of the declared weight."
    )


class WeightRules(Tolerance):
    """Default tolerance, overridable per two-digit HS chapter."""

    by_hs_chapter: dict[str, Tolerance] = Field(
        default_factory=dict,
        title="Per-chapter tolerance",
        description="Two-digit HS chapter → tolerance; the strictest present chapter applies.",
    )

    @field_validator("by_hs_chapter")
    @classmethod
    def _chapters_are_two_digits(cls, v: dict[str, Tolerance]) -> dict[str, Tolerance]:
        bad = [k for k in v if len(k) != 2 or not k.isdigit()]
        if bad:
            raise ValueError(f"HS chapters must be two digits, got {bad}")
        return v


class Limits(_Strict):
    """Retail import limits in CNY."""

    per_transaction_cny: Decimal = Field(
        Decimal(5000), ge=0, title="Per transaction", description="CBEC single transaction."
    )
    annual_per_buyer_cny: Decimal = Field(
        Decimal(26000), ge=0, title="Per buyer and year", description="CBEC calendar-year total."
    )
    postal_per_item_cny: Decimal = Field(
        Decimal(1000), ge=0, title="Postal item", description="Personal postal item value."
    )
    postal_hk_mo_tw_cny: Decimal = Field(
        Decimal(800),
        ge=0,
        title="Postal item from HK, Macao, Taiwan",
        description="Personal postal item value from Hong Kong, Macao or Taiwan.",
    )
    cn22_max_sdr: Decimal = Field(
        Decimal(300), ge=0, title="CN22 limit", description="SDR; above it a CN23 is needed."
    )


class ThreeDoc(_Strict):
    """Three-document check settings."""

    amount_tolerance_cny: Decimal = Field(
        Decimal("0.01"), ge=0, title="Amount tolerance", description="Allowed difference, CNY."
    )


#: CEB statuses that mean anything but a release: never configurable as one.
NOT_RELEASES = frozenset(
    {1, 2, 3, 4, 100, 120, 300, 399, 400, 500, 501, 502, 503, 599, 600, 700, 899}
)


class Customs(_Strict):
    """Which customs statuses count as released: 800, and for postal items its equivalent."""

    release_statuses: list[int] = Field(
        default_factory=lambda: [800], title="Release", description="CEB returnStatus: 800 only."
    )
    postal_release_statuses: list[int] = Field(
        default_factory=lambda: [800], title="Postal release", description="Postal statuses."
    )

    @field_validator("release_statuses")
    @classmethod
    def _only_800(cls, v: list[int]) -> list[int]:
        if v != [800]:
            raise ValueError(f"the CEB release status is 800 and only 800, got {v}")
        return v

    @field_validator("postal_release_statuses")
    @classmethod
    def _postal_release(cls, v: list[int]) -> list[int]:
        bad = [s for s in v if s < 0 or s in NOT_RELEASES]
        if bad or not v:
            raise ValueError(f"postal release statuses must be release codes, got {v}")
        return v


class TaxRate(_Strict):
    """Statutory rates of goods: VAT and ad valorem consumption tax (shares of 1)."""

    vat: Decimal = Field(ge=0, le=1, title="VAT", description="Import VAT rate.")
    consumption: Decimal = Field(
        Decimal(0), ge=0, lt=1, title="Consumption tax", description="Ad valorem rate."
    )


class PostalTax(_Strict):
    """Postal-article tax on personal articles."""

    default_rate: Decimal = Field(Decimal("0.20"), ge=0, le=1, title="Default", description="")
    by_hs_prefix: dict[str, Decimal] = Field(
        default_factory=dict, title="Rates", description="HS prefix → rate (longest wins)."
    )
    exempt_up_to_cny: Decimal = Field(
        Decimal(50), ge=0, title="Exemption", description="Tax of at most this is not due."
    )

    @field_validator("by_hs_prefix")
    @classmethod
    def _rates(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = {k: r for k, r in v.items() if not k.isdigit() or not 0 <= r <= 1}
        if bad:
            raise ValueError(f"postal rates need digit prefixes and rates 0..1, got {bad}")
        return v


class Tax(_Strict):
    """CBEC comprehensive tax: statutory rates by HS prefix, charged at ``cbec_share``."""

    cbec_share: Decimal = Field(
        Decimal("0.7"), ge=0, le=1, title="CBEC share", description="Share of VAT + consumption."
    )
    default_vat: Decimal = Field(Decimal("0.13"), ge=0, le=1, title="VAT", description="")
    tolerance_cny: Decimal = Field(
        Decimal("0.05"), ge=0, title="Tolerance", description="Allowed taxTotal difference."
    )
    by_hs_prefix: dict[str, TaxRate] = Field(
        default_factory=dict, title="Rates", description="HS prefix → rates (longest wins)."
    )
    postal: PostalTax = Field(default_factory=PostalTax, title="Postal", description="")

    @field_validator("by_hs_prefix")
    @classmethod
    def _digits(cls, v: dict[str, TaxRate]) -> dict[str, TaxRate]:
        bad = [k for k in v if not k.isdigit()]
        if bad:
            raise ValueError(f"HS prefixes must be digits, got {bad}")
        return v


class Xray(_Strict):
    """X-ray requirement."""

    required: bool = Field(True, title="Required", description="Release needs a cleared image.")


class GoodsList(_Strict):
    """HS prefixes and keywords (Chinese and English) that flag goods."""

    hs_prefixes: list[str] = Field(default_factory=list, title="HS prefixes", description="Digits.")
    keywords: list[str] = Field(
        default_factory=list, title="Keywords", description="Matched in names and models."
    )

    @field_validator("hs_prefixes")
    @classmethod
    def _digits(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if not p.isdigit()]
        if bad:
            raise ValueError(f"HS prefixes must be digits, got {bad}")
        return v

    @field_validator("keywords")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if any(not k.strip() for k in v):
            raise ValueError("keywords must not be empty")
        return v


class Enterprises(_Strict):
    """Credit grade per enterprise code (ebcCode or agentCode)."""

    default_grade: Grade = Field(Grade.GENERAL, title="Default", description="Unlisted codes.")
    grades: dict[str, Grade] = Field(default_factory=dict, title="Grades", description="Code →.")


class RandomSelection(_Strict):
    """Random-selection rate per credit grade (share of parcels sent to inspection)."""

    rates: dict[Grade, float] = Field(
        default_factory=lambda: {Grade.ADVANCED: 0.005, Grade.GENERAL: 0.02, Grade.DISHONEST: 0.3},
        title="Rates",
        description="Grade → probability 0..1.",
    )

    @field_validator("rates")
    @classmethod
    def _probabilities(cls, v: dict[Grade, float]) -> dict[Grade, float]:
        bad = {k: r for k, r in v.items() if not 0.0 <= r <= 1.0}
        if bad:
            raise ValueError(f"rates must be between 0 and 1, got {bad}")
        return v


class RulesFile(_Strict):
    """The whole rules file."""

    version: str = Field(min_length=1, title="Version", description="Rule-set version string.")
    seed: str = Field(min_length=1, title="Seed", description="Random-selection seed.")
    currency_to_cny: dict[str, Decimal] = Field(
        default_factory=lambda: {"CNY": Decimal(1), "142": Decimal(1)},
        title="Exchange rates",
        description="Currency code (ISO or CEB numeric) → CNY per unit.",
    )
    sdr_to_cny: Decimal = Field(
        Decimal("9.6"), gt=0, title="SDR rate", description="CNY per special drawing right."
    )
    weight: WeightRules = Field(title="Weight", description="Weight tolerance.")
    limits: Limits = Field(default_factory=Limits, title="Limits", description="Value limits.")
    three_doc: ThreeDoc = Field(default_factory=ThreeDoc, title="Three documents", description="")
    customs: Customs = Field(default_factory=Customs, title="Customs", description="Statuses.")
    xray: Xray = Field(default_factory=Xray, title="X-ray", description="X-ray requirement.")
    prohibited: GoodsList = Field(default_factory=GoodsList, title="Prohibited", description="")
    restricted: GoodsList = Field(default_factory=GoodsList, title="Restricted", description="")
    enterprises: Enterprises = Field(
        default_factory=Enterprises, title="Enterprises", description=""
    )
    random_selection: RandomSelection = Field(
        default_factory=RandomSelection, title="Random selection", description="Rates by grade."
    )
    tax: Tax = Field(default_factory=Tax, title="Tax", description="Tax rates.")

    @field_validator("currency_to_cny")
    @classmethod
    def _positive_rates(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = {k: r for k, r in v.items() if not r.is_finite() or r <= 0}
        if bad:
            raise ValueError(f"exchange rates must be positive, got {bad}")
        return v
