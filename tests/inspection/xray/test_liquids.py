"""LIQUID signatures: a slab on its edge (a book standing) is told from a bottle lying down."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clearline.bench.xray_phys import declaration_of, machine_calibration
from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import Calibration
from inspection.xray.explain import explain, family
from inspection.xray.screen import screen
from inspection.xray.signatures import SigKind, Signature, SignatureConfig
from simulators.xray.catalogue import Thing
from simulators.xray.phantom import render_phantom, render_scene
from simulators.xray.physics import MachineProfile, load_profiles
from simulators.xray.solids import Cyl, Part, Plate, rect
from tests.inspection.xray.scans import small_machine

BOOKS = ("4901990000", "printed books 图书")
SHOES = ("6404110000", "sports shoes")
CLOTHES = ("6109100021", "cotton T-shirt")
DRINK = ("2202100000", "soft drink")


def decl(*goods: tuple[str, str]) -> Declaration:
    lines = tuple(
        GoodsLine(gnum=i, hs_code=hs, name=n, qty=Decimal(1)) for i, (hs, n) in enumerate(goods, 1)
    )
    return Declaration(kind=DocKind.POSTAL, message_type="CN22", business_key="k", lines=lines)


def standing_book(thick_mm: float = 30.0) -> Thing:
    """A 200 x 140 mm book standing on its spine: 140 mm of paper deep, 30 mm wide."""
    paper = Plate("paper", 0, 200, rect(0, 140), 0.0, thick_mm)
    return Thing("book", [paper], 90.0, None, BOOKS)


def flat_flask(liquid: str, thick_mm: float = 25.0) -> Thing:
    """A 150 x 100 mm flat PET flask of ``liquid`` standing on its narrow edge."""
    parts: list[Part] = [Plate(liquid, 0, 150, rect(0, 100), 0.0, thick_mm - 1.0)]
    for side in (-1.0, 1.0):
        parts.append(Plate("pet", 0, 150, rect(0, 100), side * (thick_mm - 0.5) / 2, 0.5))
    return Thing("flask", parts, 90.0, "undeclared_liquid", None)


def bottle(liquid: str, r_mm: float, length_mm: float = 200.0) -> Thing:
    """A PET bottle of ``liquid`` lying down, 200 mm long unless told."""
    parts: list[Part] = [
        Cyl(liquid, 0, length_mm, 0, 0, r_mm - 0.4),
        Cyl("pet", 0, length_mm, 0, 0, r_mm, r_mm - 0.4),
    ]
    return Thing("bottle", parts, 0.0, "undeclared_liquid", None)


PROFILES = ("eff-60-100", "sandwich-120")


@pytest.fixture(scope="module", params=PROFILES)
def machine(request: pytest.FixtureRequest) -> tuple[MachineProfile, Calibration]:
    return small_machine(request.param)


def png_of(prof: MachineProfile, things: list[tuple[Thing, float, tuple[int, int]]]) -> bytes:
    return encode_png(render_scene(prof, things, seed=2, clothes_cm=2.0).image, 0)


def liquids(res: object) -> list[Signature]:
    return [
        f.signature
        for f in res.findings  # type: ignore[attr-defined]
        if f.signature.kind is SigKind.LIQUID and f.signature.score >= 0.5
    ]


def test_a_standing_book_is_an_edge_on_slab_explained_by_books_only(
    machine: tuple[MachineProfile, Calibration],
) -> None:
    prof, cal = machine
    png = png_of(prof, [(standing_book(), 10.0, (150, 200))])
    as_books = screen(png, cal, decl(CLOTHES, BOOKS))
    found = liquids(as_books)
    assert found and all(s.edge_on for s in found), [s.detail for s in found]
    assert as_books.state is XrayState.CLEARED, as_books.reasons
    for other in (decl(CLOTHES), decl(CLOTHES, DRINK)):
        res = screen(png, cal, other)
        assert res.state is XrayState.SUSPECT and any("LIQUID" in r for r in res.reasons)


@pytest.mark.parametrize("thick_mm", [15.0, 25.0])
def test_a_flat_water_flask_on_its_edge_is_no_book(
    machine: tuple[MachineProfile, Calibration], thick_mm: float
) -> None:
    prof, cal = machine
    flask = (flat_flask("water", thick_mm), 10.0, (150, 200))
    res = screen(png_of(prof, [flask]), cal, decl(CLOTHES, BOOKS, SHOES))
    (found,) = liquids(res)
    assert not found.edge_on and "water-like" in found.detail, found.detail
    assert res.state is XrayState.SUSPECT, res.reasons
    assert any("LIQUID" in r for r in res.reasons)


@pytest.mark.parametrize("clothes_cm", [0.0, 2.0])
def test_a_standing_book_reads_as_paper_below_water(
    machine: tuple[MachineProfile, Calibration], clothes_cm: float
) -> None:
    """On clothes, and on the bare belt beside the carton (surroundings of air)."""
    prof, cal = machine
    zeff = {}
    for name, thing in (("book", standing_book()), ("water", flat_flask("water"))):
        at = (150, 200) if clothes_cm else (2, 60)
        scene = render_scene(prof, [(thing, 90.0 if at[0] < 10 else 10.0, at)], 2, clothes_cm)
        res = screen(encode_png(scene.image, 0), cal, decl(CLOTHES, BOOKS))
        (found,) = liquids(res)
        zeff[name] = float(found.detail.rsplit("effective Z ", 1)[1][:4])
    assert zeff["book"] < SignatureConfig().slab_max_zeff < zeff["water"], zeff


@pytest.mark.parametrize(
    ("liquid", "r_mm"), [("water", 28.0), ("sugar", 28.0), ("ethanol", 28.0), ("oil", 40.0)]
)
def test_a_bottle_lying_down_beside_a_standing_book_is_no_slab_and_is_flagged(
    machine: tuple[MachineProfile, Calibration], liquid: str, r_mm: float
) -> None:
    prof, cal = machine
    book, drink = (standing_book(), 90.0, (100, 70)), (bottle(liquid, r_mm), 90.0, (300, 70))
    res = screen(png_of(prof, [book, drink]), cal, decl(CLOTHES, BOOKS, SHOES))
    found = liquids(res)
    assert [s.edge_on for s in sorted(found, key=lambda s: s.box[0])] == [True, False]
    assert res.state is XrayState.SUSPECT, res.reasons


@pytest.mark.parametrize("liquid", ["water", "ethanol"])
def test_a_small_bottle_shallower_than_the_depth_rule_shows_by_its_round_profile(
    machine: tuple[MachineProfile, Calibration], liquid: str
) -> None:
    prof, cal = machine
    res = screen(png_of(prof, [(bottle(liquid, 28.0), 90.0, (300, 70))]), cal, decl(CLOTHES))
    (found,) = liquids(res)
    assert found.value < 50.0 and "lying down" in found.detail
    assert res.state is XrayState.SUSPECT, res.reasons


def test_a_flat_plastic_slab_is_no_bottle(machine: tuple[MachineProfile, Calibration]) -> None:
    prof, cal = machine
    slab = Thing("toy", [Plate("polyethylene", 0, 200, rect(0, 120), 0.0, 40.0)], 0.0, None, None)
    res = screen(png_of(prof, [(slab, 0.0, (200, 120))]), cal, decl(CLOTHES))
    assert not liquids(res), [s.detail for s in liquids(res)]


def _sig(edge_on: bool, size: tuple[float, float] = (200.0, 30.0)) -> Signature:
    return Signature(SigKind.LIQUID, 1.0, (0, 0, 1, 1), 120.0, "", 60.0, size, edge_on)


def test_only_books_and_shoes_explain_edge_on_slabs_and_only_those() -> None:
    assert family(GoodsLine(gnum=1, hs_code="", name="children's book")) == "book"
    assert family(GoodsLine(gnum=1, hs_code="", name="notebook computer")) == "computer"
    assert explain([_sig(True)], decl(BOOKS))[0].explained_by
    assert not explain([_sig(False)], decl(BOOKS))[0].explained_by
    assert not explain([_sig(True)], decl(DRINK, CLOTHES))[0].explained_by
    assert explain([_sig(False, (200.0, 80.0))], decl(DRINK))[0].explained_by
    two = [_sig(True), _sig(True)]
    assert [bool(f.explained_by) for f in explain(two, decl(BOOKS))] == [True, False]
    assert all(f.explained_by for f in explain(two, decl(SHOES)))
    wide = _sig(True, (200.0, 60.0))
    assert not explain([wide], decl(BOOKS, SHOES))[0].explained_by


def bottles_bridged(bridge_mm: float) -> Thing:
    """Two 100 mm water bottles end to end, joined by a plastic block ``bridge_mm`` thick."""
    one = bottle("water", 30.0, 100.0).parts
    two = [
        Cyl(p.material, p.x0 + 130, p.x1 + 130, 0, 0, p.r, p.r_in)
        for p in one
        if isinstance(p, Cyl)
    ]
    block = Plate("polyethylene", 100, 130, rect(-25, 25), 0.0, bridge_mm)
    return Thing("bottles", [*one, block, *two], 0.0, "undeclared_liquid", None)


def test_two_bottles_joined_into_one_region_are_two_items_each_for_its_own_line(
    machine: tuple[MachineProfile, Calibration],
) -> None:
    """Merged, the two fit one drink's size; cut apart, each needs its own goods line."""
    prof, cal = machine
    png = png_of(prof, [(bottles_bridged(30.0), 0.0, (120, 180))])
    both = screen(png, cal, decl(CLOTHES, DRINK, DRINK))
    found = liquids(both)
    assert len(found) == 2 and all("cut from a larger region" in s.detail for s in found)
    assert both.state is XrayState.CLEARED, both.reasons
    one = screen(png, cal, decl(CLOTHES, DRINK))
    assert one.state is XrayState.SUSPECT and any("LIQUID" in r for r in one.reasons)


@pytest.mark.parametrize("name", ["eff-60-100", "sandwich-150"])
def test_the_shallow_bottle_of_held_out_seed_1000400_is_flagged(name: str) -> None:
    """An undeclared 245 x 71 mm bottle by a declared phone and two books read 45 mm deep,
    0.64 of its width, and cleared at the round-profile ratio of 0.7 (the cause of the low
    reading is not known: docs/xray-prescreen.md)."""
    prof = load_profiles()[name]
    ph = render_phantom(prof, 1_000_400, "undeclared_liquid")
    res = screen(encode_png(ph.image, 0), machine_calibration(prof), declaration_of(ph, "k"))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert any("lying down" in r for r in res.reasons), res.reasons
