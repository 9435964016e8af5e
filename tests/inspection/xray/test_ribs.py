"""Which lines make a folded umbrella's rib bundle (``inspection.xray.ribs``), on drawn lines.

Each case is a set of EDGE_BLADE lines placed by hand: their direction, centre and extent
are what ``lines.line_axis`` reads off a line's pixels.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import pytest

from inspection.xray.explain import Finding
from inspection.xray.ribs import RIB_BAND_MM, bundles, explain_ribs
from inspection.xray.shapes import union_box
from inspection.xray.signatures import SigKind, Signature
from tests.inspection.xray.scans import declared

UMBRELLA = ("6601910000", "umbrella 雨伞")
SHIRT = ("6109100000", "cotton T-shirt 棉质T恤")
PX = 0.6


def line(
    across_mm: float,
    length_mm: float = 220.0,
    degrees: float = 30.0,
    start_mm: float = 0.0,
    contrast: float = 0.8,
    kind: SigKind = SigKind.EDGE_BLADE,
) -> Finding:
    """An unexplained line ``across_mm`` to the side of a 30° axis through (500, 400) px."""
    a = math.radians(degrees)
    u, n = (math.cos(a), math.sin(a)), (-math.sin(a), math.cos(a))
    mid = (start_mm + length_mm / 2) / PX
    cx = 500 + mid * u[0] + across_mm / PX * n[0]
    cy = 400 + mid * u[1] + across_mm / PX * n[1]
    half = length_mm / PX / 2
    box = (int(cx - half), int(cy - half), int(2 * half), int(2 * half))
    sig = Signature(
        kind,
        min(1.0, contrast),
        box,
        contrast,
        f"thin dense line {length_mm:.0f} x 3.0 mm",
        size_mm=(length_mm, 3.0),
        axis=(cx, cy, degrees % 180.0, -half, half),
    )
    return Finding(sig, "")


def test_ribs_side_by_side_are_one_bundle() -> None:
    ribs = tuple(line(off) for off in (-12.0, -5.0, 5.0, 12.0))
    assert bundles(ribs, PX) == [[0, 1, 2, 3]]


def test_a_line_by_itself_is_no_bundle() -> None:
    assert bundles((line(0.0),), PX) == []


def test_a_turned_line_is_left_out() -> None:
    got = bundles((line(-5.0), line(5.0), line(0.0, degrees=36.0)), PX)
    assert got == [[0, 1]]


def test_direction_wraps_round_at_180_degrees() -> None:
    """A line at 179° and one at 1° about the same centre are 2° apart."""
    got = bundles((line(-5.0, 220.0, 179.0, -110.0), line(5.0, 220.0, 1.0, -110.0)), PX)
    assert got == [[0, 1]]


def test_lines_beyond_an_umbrellas_width_are_two_things() -> None:
    far = RIB_BAND_MM + 5.0
    assert bundles((line(0.0), line(far)), PX) == []


def test_a_short_line_or_one_further_along_is_left_out() -> None:
    short = line(6.0, length_mm=120.0)  # a closed folding knife is at most 130 mm
    shifted = line(-6.0, start_mm=120.0)  # as long, but half of it past the ribs' end
    ribs = (line(0.0), line(10.0), short, shifted)
    assert bundles(ribs, PX) == [[0, 1]]


def test_lines_shorter_than_a_rib_make_no_bundle() -> None:
    """Three parallel lines of 120 mm: a folding knife's blade between its liners."""
    knife = tuple(line(off, length_mm=120.0) for off in (-4.0, 0.0, 4.0))
    assert bundles(knife, PX) == []


def test_a_line_darker_than_the_ribs_breaks_the_bundle() -> None:
    """A blade on its edge laid among the ribs stands out of them: nothing is explained."""
    ribs = (line(-12.0), line(-5.0), line(5.0), line(12.0))
    assert bundles((*ribs, line(0.0, contrast=2.4)), PX) == []


def test_only_edge_blades_not_yet_explained_are_read() -> None:
    strip = line(0.0, kind=SigKind.STRIP)
    done = Finding(line(5.0).signature, "umbrella")
    assert bundles((strip, done, line(-5.0)), PX) == []


@pytest.mark.parametrize("qty", [1, 2])
def test_one_umbrella_explains_one_bundle(qty: int) -> None:
    first = (line(-5.0), line(5.0))
    second = (line(-5.0, degrees=100.0), line(5.0, degrees=100.0))
    decl = declared(SHIRT, UMBRELLA)
    lines = (decl.lines[0], replace(decl.lines[1], qty=Decimal(qty)))
    got = explain_ribs((*first, *second), replace(decl, lines=lines))
    explained = [bool(f.explained_by) for f in got]
    assert explained == [True, True, qty == 2, qty == 2]
    assert {f.explained_by for f in got if f.explained_by} == {UMBRELLA[1]}


def test_no_umbrella_declared_explains_nothing() -> None:
    ribs = (line(-5.0), line(5.0))
    assert explain_ribs(ribs, declared(SHIRT)) == ribs
    assert explain_ribs(ribs, None) == ribs


def test_lines_with_something_unexplained_over_them_are_no_ribs() -> None:
    """A pistol on its edge shows its slide as two parallel lines, its frame lies there too."""
    slide = (line(-3.0), line(3.0))
    x, y = slide[0].signature.box[:2]
    frame = Finding(Signature(SigKind.THICK_METAL, 1.0, (x + 20, y + 20, 60, 40), 9.0, ""), "")
    faint = Finding(Signature(SigKind.METAL, 0.3, (x + 20, y + 20, 60, 40), 1.0, ""), "")
    decl = declared(SHIRT, UMBRELLA)
    assert not any(f.explained_by for f in explain_ribs((*slide, frame), decl))
    assert [bool(f.explained_by) for f in explain_ribs((*slide, faint), decl)] == [
        True,
        True,
        False,
    ]


def test_an_opaque_line_is_no_rib() -> None:
    """A line that stops both energies alike is deep metal on its edge: a blade, not a rod.

    It is no member of the bundle, and lying among the ribs it leaves them unexplained too.
    """
    ribs = (line(-12.0), line(-5.0), line(5.0))
    blade = Finding(replace(line(12.0).signature, opaque=True), "")
    assert bundles((*ribs, blade), PX) == [[0, 1, 2]]
    assert not any(f.explained_by for f in explain_ribs((*ribs, blade), declared(SHIRT, UMBRELLA)))


def test_ribs_lie_within_the_umbrella_the_line_placed() -> None:
    """Where the umbrella explained its tube as a strip, only a bundle along it is its ribs."""
    ribs = (line(-5.0), line(5.0))
    x, y, w, h = union_box([f.signature.box for f in ribs])
    tube = Finding(Signature(SigKind.STRIP, 1.0, (x, y, w, h), 60.0, ""), UMBRELLA[1])
    far = Finding(Signature(SigKind.STRIP, 1.0, (x + w + 50, y, w, h), 60.0, ""), UMBRELLA[1])
    decl = declared(SHIRT, UMBRELLA)
    assert [bool(f.explained_by) for f in explain_ribs((*ribs, tube), decl)] == [True] * 3
    assert [bool(f.explained_by) for f in explain_ribs((*ribs, far), decl)] == [False, False, True]
