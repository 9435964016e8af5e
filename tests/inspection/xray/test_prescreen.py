"""Golden simulated parcels through the whole pre-screen, the auto-clear guarantees and fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.statuses import XrayState
from devices.xray_image import DualEnergyImage, encode_png
from inspection.xray.evaluate import overlap
from inspection.xray.flags import FlagKind
from inspection.xray.image import XrayImageError, attenuation, decode_attenuation
from inspection.xray.prescreen import AutoClearPolicy, PrescreenConfig, prescreen, xray_state
from simulators.xray import ItemKind, XrayGenerator

from .scans import box_of, declared, item, png_of, scan_of

TEXTILES = ("6109100021", "cotton T-shirt")
#: A policy that would clear anything it is allowed to.
LAX = PrescreenConfig(policy=AutoClearPolicy(max_risk=1.0, min_object_cm2=0.0))


def kinds(result: object) -> set[FlagKind]:
    return {f.kind for f in result.flags}  # type: ignore[attr-defined]


def test_carton_of_clothes_is_cleared_automatically(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.TEXTILES, count=2))
    result = prescreen(png_of(scan), declared(TEXTILES))
    assert result.flags == ()
    assert result.auto_clear
    assert result.blockers == ()
    assert xray_state(result) is XrayState.CLEARED
    assert result.shares.organic > 0.9


def test_impenetrable_block_is_flagged_and_never_cleared(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.TEXTILES), item(ItemKind.DENSE_BLOCK))
    for cfg in (PrescreenConfig(), LAX):
        result = prescreen(png_of(scan), declared(TEXTILES), cfg)
        flag = next(f for f in result.flags if f.kind is FlagKind.IMPENETRABLE)
        assert flag.alarm
        assert overlap(flag.region, box_of(scan, "dense_block")) > 0.8
        assert not result.auto_clear
        assert xray_state(result) is XrayState.SUSPECT


def test_phone_battery_is_flagged_and_never_cleared(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.ELECTRONICS, cells=1))
    phone = declared(("8517130000", "mobile phone"))
    for cfg in (PrescreenConfig(), LAX):
        result = prescreen(png_of(scan), phone, cfg)
        battery = [f for f in result.flags if f.kind is FlagKind.BATTERY]
        assert len(battery) == 1
        assert not battery[0].alarm  # one installed cell is allowed ...
        assert not result.auto_clear  # ... but a person must see it
        assert any("BATTERY is never cleared" in b for b in result.blockers)
        assert xray_state(result) is XrayState.PENDING


def test_power_bank_over_the_cell_limit_is_suspect(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.ELECTRONICS, cells=6))
    result = prescreen(png_of(scan), declared(("8507600090", "power bank")))
    battery = next(f for f in result.flags if f.kind is FlagKind.BATTERY)
    assert battery.alarm
    assert 5.0 <= battery.value <= 7.0
    assert xray_state(result) is XrayState.SUSPECT


def test_blade_is_flagged_where_it_lies(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.TEXTILES), item(ItemKind.BLADE), seed=3)
    result = prescreen(png_of(scan), declared(TEXTILES))
    blade = next(f for f in result.flags if f.kind is FlagKind.BLADE)
    assert blade.alarm
    assert overlap(blade.region, box_of(scan, "blade")) > 0.8
    assert xray_state(result) is XrayState.SUSPECT


def test_gun_is_flagged(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.SHOES), item(ItemKind.GUN), seed=4)
    result = prescreen(png_of(scan))
    gun = next(f for f in result.flags if f.kind is FlagKind.GUN)
    assert gun.alarm
    assert overlap(gun.region, box_of(scan, "gun")) > 0.5


def test_spanner_is_dense_metal_but_no_threat(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.METAL_TOOL), seed=5)
    result = prescreen(png_of(scan), declared(("8204110000", "hand spanner")))
    assert kinds(result) == {FlagKind.DENSE_METAL}
    assert not result.alarms  # declared metal goods: the dense metal is no alarm ...
    assert not result.auto_clear  # ... but a parcel that is mostly metal is seen by a person
    assert any("metal covers" in b for b in result.blockers)
    assert xray_state(result) is XrayState.PENDING
    undeclared = prescreen(png_of(scan))
    assert not undeclared.auto_clear
    assert xray_state(undeclared) is XrayState.PENDING


def test_declared_textiles_but_mostly_metal_is_a_mismatch(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.TEXTILES), item(ItemKind.METAL_TOOL, count=2), seed=6)
    result = prescreen(png_of(scan), declared(TEXTILES))
    mismatch = next(f for f in result.flags if f.kind is FlagKind.DECLARATION_MISMATCH)
    assert mismatch.alarm
    assert "organic goods" in mismatch.detail
    assert xray_state(result) is XrayState.SUSPECT
    truthful = prescreen(png_of(scan), declared(TEXTILES, ("8204110000", "spanner")))
    assert FlagKind.DECLARATION_MISMATCH not in kinds(truthful)


def test_phone_in_a_parcel_declared_as_documents_is_a_mismatch(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.PAPER), item(ItemKind.ELECTRONICS, cells=1), seed=7)
    docs = declared(category="documents")
    result = prescreen(png_of(scan), docs)
    assert FlagKind.DECLARATION_MISMATCH in kinds(result)
    assert not result.auto_clear


def test_empty_belt_is_not_a_cleared_parcel() -> None:
    belt = np.full((64, 96), 55_700, np.uint16)
    data = encode_png(DualEnergyImage(low=belt, high=belt), 0)
    result = prescreen(data)
    assert result.flags == ()
    assert not result.auto_clear
    assert any("no parcel" in b for b in result.blockers)


def test_attenuation_planes_give_the_same_findings_as_the_png(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.TEXTILES), item(ItemKind.BLADE), seed=3)
    from_png = prescreen(png_of(scan))
    from_planes = prescreen(decode_attenuation(png_of(scan)))
    assert kinds(from_png) == kinds(from_planes)
    assert from_planes.width == 640 and from_planes.height == 480


def test_switched_off_policy_clears_nothing(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.TEXTILES))
    cfg = PrescreenConfig(policy=AutoClearPolicy(enabled=False))
    result = prescreen(png_of(scan), declared(TEXTILES), cfg)
    assert not result.auto_clear
    assert xray_state(result) is XrayState.PENDING


def test_bad_input_raises_the_image_error() -> None:
    with pytest.raises(XrayImageError):
        prescreen(b"not an image at all")
    with pytest.raises(XrayImageError, match="differ in shape"):
        prescreen((np.zeros((16, 16), np.float32), np.zeros((16, 20), np.float32)))


def test_result_serialises_with_its_state(gen: XrayGenerator) -> None:
    scan = scan_of(gen, item(ItemKind.DENSE_BLOCK))
    doc = prescreen(png_of(scan)).as_dict()
    assert doc["state"] == "SUSPECT"
    assert doc["flags"][0]["kind"] == "IMPENETRABLE"  # type: ignore[index]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(8, 40),
    w=st.integers(8, 40),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["uniform", "dark", "bright"]),
)
def test_random_16_bit_images_never_crash(h: int, w: int, seed: int, mode: str) -> None:
    rng = np.random.default_rng(seed)
    hi_limit = {"uniform": 65536, "dark": 64, "bright": 65536}[mode]
    lo_limit = 65000 if mode == "bright" else 0
    low = rng.integers(lo_limit, hi_limit, (h, w), dtype=np.uint16)
    high = rng.integers(lo_limit, hi_limit, (h, w), dtype=np.uint16)
    for image in (
        encode_png(DualEnergyImage(low=low, high=high), 1),
        (attenuation(low, 60000.0), attenuation(high, 60000.0)),
    ):
        result = prescreen(image)
        assert 0.0 <= result.risk <= 1.0
        assert all(0.0 <= f.score <= 1.0 for f in result.flags)
        assert xray_state(result) in {XrayState.CLEARED, XrayState.PENDING, XrayState.SUSPECT}
        if any(f.kind in {FlagKind.IMPENETRABLE, FlagKind.BATTERY} for f in result.flags):
            assert not result.auto_clear
