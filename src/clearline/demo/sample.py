"""The demo's sample: declaration files for a small site and example parcels to decide."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from contracts.facts import ParcelFacts
from contracts.statuses import XrayState
from inspection.formats.ceb_write import write_ceb
from inspection.formats.postal import write_postal_json
from inspection.identity import s10_check_digit
from inspection.model import Declaration, DocKind, GoodsLine, Receipt
from simulators.sample_declarations import ParcelSet, parcel_set, with_status


@dataclass(frozen=True, slots=True)
class ExampleParcel:
    """One physical parcel of the demo: what is printed on it and what the line measured."""

    label: str
    codes: tuple[str, ...]
    facts: ParcelFacts


def _s10(serial: int, prefix: str = "RR", country: str = "CN") -> str:
    s = f"{serial:08d}"
    return f"{prefix}{s}{s10_check_digit(s)}{country}"


def _postal(n: int) -> tuple[Declaration, Receipt]:
    code = _s10(10_000_000 + n)
    decl = Declaration(
        kind=DocKind.POSTAL,
        message_type="CN22",
        business_key=code,
        logistics_no=code,
        category="gift",
        goods_value=Decimal("320.00"),
        currency="CNY",
        gross_weight_kg=Decimal("0.850"),
        sender="Anna Schmidt",
        addressee="李华",
        country="DE",
        lines=(
            GoodsLine(
                gnum=1,
                hs_code="6110200000",
                name="Wool sweater",
                qty=Decimal(1),
                net_weight_kg=Decimal("0.700"),
                total_price=Decimal("320.00"),
                currency="CNY",
                origin="DE",
            ),
        ),
    )
    receipt = Receipt(
        message_type="POSTAL",
        kind=DocKind.POSTAL,
        business_key=code,
        return_status=800,
        return_time=datetime(2026, 11, 1, 9, tzinfo=UTC),
        return_info="released",
    )
    return decl, receipt


def _facts(ps: ParcelSet, **kw: object) -> ParcelFacts:
    weight = float(ps.inventory.gross_weight_kg or 0)
    base = ParcelFacts(weight_kg=weight, weight_stable=True, xray=XrayState.CLEARED)
    return replace(base, **kw)  # type: ignore[arg-type]


def build_sample(out: Path, parcels: int, seed: int) -> list[ExampleParcel]:
    """Write the sample's declaration and receipt files into ``out``; return example parcels."""
    rng = random.Random(seed)
    sets = [parcel_set(n, rng) for n in range(1, max(parcels, 12) + 1)]
    statuses = {2: (500, "查验"), 3: (501, "扣留移送通关"), 4: (700, "退运"), 5: (399, "海关审结")}
    for n, (status, info) in statuses.items():
        sets[n - 1] = with_status(sets[n - 1], status, info)
    knife = GoodsLine(
        gnum=1,
        hs_code="8211910000",
        name="户外折叠匕首",
        qty=Decimal(1),
        total_price=sets[7].inventory.lines[0].total_price,
        currency="142",
    )
    sets[7] = replace(sets[7], inventory=replace(sets[7].inventory, lines=(knife,)))
    postal, postal_receipt = _postal(1)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Sequence[Declaration | Receipt]] = {
        "CEB311": [s.order for s in sets],
        "CEB411": [s.payment for i, s in enumerate(sets) if i != 5],  # parcel 6: no payment
        "CEB511": [s.waybill for s in sets],
        "CEB621": [s.inventory for s in sets],
        "CEB622": [s.receipt for s in sets],
    }
    for message_type, records in files.items():
        with (out / f"{message_type.lower()}.xml").open("wb") as f:
            write_ceb(f, message_type, records)
    with (out / "postal.json").open("wb") as f:
        write_postal_json(f, [postal])
    with (out / "postal-receipts.json").open("wb") as f:
        write_postal_json(f, [postal_receipt])
    s = sets
    return [
        ExampleParcel("clean CBEC parcel", (s[0].inventory.logistics_no,), _facts(s[0])),
        ExampleParcel("customs chose inspection", (s[1].inventory.logistics_no,), _facts(s[1])),
        ExampleParcel("detained by customs", (s[2].inventory.logistics_no,), _facts(s[2])),
        ExampleParcel("return to sender", (s[3].inventory.logistics_no,), _facts(s[3])),
        ExampleParcel("customs not yet decided", (s[4].inventory.logistics_no,), _facts(s[4])),
        ExampleParcel("payment never filed", (s[5].inventory.logistics_no,), _facts(s[5])),
        ExampleParcel(
            "30 % heavier than declared",
            (s[6].inventory.logistics_no,),
            _facts(s[6], weight_kg=float(s[6].inventory.gross_weight_kg or 0) * 1.3),
        ),
        ExampleParcel("restricted goods (dagger)", (s[7].inventory.logistics_no,), _facts(s[7])),
        ExampleParcel(
            "X-ray image suspect",
            (s[8].inventory.logistics_no,),
            _facts(s[8], xray=XrayState.SUSPECT),
        ),
        ExampleParcel("scanned by order number", (f"]C1{s[9].order.order_no}",), _facts(s[9])),
        ExampleParcel("postal item (S10)", (postal.logistics_no,), _facts(s[0], weight_kg=0.86)),
        ExampleParcel("label never filed", ("YT999999999999",), _facts(s[0])),
        ExampleParcel("damaged S10 label", ("RR123456784CN",), _facts(s[0])),
        ExampleParcel("no label read", (), _facts(s[0])),
        ExampleParcel(
            "two labels, two declarations",
            (s[0].inventory.logistics_no, s[10].inventory.logistics_no),
            _facts(s[0]),
        ),
        ExampleParcel(
            "still moving on the scale",
            (s[11].inventory.logistics_no,),
            _facts(s[11], weight_stable=False),
        ),
    ]
