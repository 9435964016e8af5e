"""The X-ray pre-screen's flags in words: each kind's short name, and its detail line.

Every kind a pre-screen can give (the hub's image flags, the edge's calibrated signatures and
its own flags for images it could not screen) has a short name, shown with its code beside it
for the inspector (``刀具 (BLADE)``). A flag's detail line (``thin elongated steel 82 x 12 mm,
1.2 mm thick``) is stored in English as the pre-screen wrote it; the forms below word it in
the page's language with its numbers kept. The review station's script applies the same forms
(:func:`script_details`), since it builds its panel from the JSON API, which speaks English.
"""

from __future__ import annotations

import re

from hub.web import i18n
from hub.web.i18n import N_

#: Short names of the flag kinds: the hub's image flags (``inspection.xray.flags.FlagKind``),
#: the edge's signatures (``inspection.xray.signatures.SigKind``) and the edge's own flags of
#: an image it could not screen (``edge.line.screening``).
FLAG_NAMES: dict[str, str] = {
    "IMPENETRABLE": N_("impenetrable"),
    "DENSE_METAL": N_("dense metal"),
    "BATTERY": N_("battery"),
    "BLADE": N_("blade"),
    "GUN": N_("gun"),
    "DECLARATION_MISMATCH": N_("goods mismatch"),
    "HIGH_Z": N_("high-Z material"),
    "EDGE_BLADE": N_("blade on edge"),
    "THICK_METAL": N_("thick metal"),
    "STRIP": N_("metal strip or rod"),
    "METAL": N_("metal"),
    "LIQUID": N_("liquid-like matter"),
    "UNCALIBRATED": N_("machine not calibrated"),
    "COARSE_IMAGE": N_("image too coarse"),
    "UNREADABLE": N_("image unreadable"),
    "LEAD_BLIND": N_("machine blind to lead"),
}

_N = r"(?P<{}>[\d.]+)"


def _size(long: str = "length", short: str = "width") -> str:
    return f"{_N.format(long)} x {_N.format(short)} mm"


#: Detail lines of the image flags (``inspection.xray.flags``, ``detect``, ``declared``):
#: pattern (Python and JavaScript alike: no look-behind, no back-references) → words.
DETAILS: tuple[tuple[str, str], ...] = (
    (f"{_N.format('area')} cm² the X-rays do not penetrate: cannot be cleared by image",
     N_("{area} cm² the X-rays do not penetrate: cannot be cleared by image")),
    (f"thin elongated steel {_size()}, {_N.format('thick')} mm thick",
     N_("thin elongated steel {length} x {width} mm, {thick} mm thick")),
    (f"thick metal barrel with a grip-like arm, {_size()}",
     N_("thick metal barrel with a grip-like arm, {length} x {width} mm")),
    (f"about {_N.format('mass')} g of metal \\(steel equivalent\\), {_N.format('thick')} mm thick",
     N_("about {mass} g of metal (steel equivalent), {thick} mm thick")),
    (f"lithium-cell signature, about {_N.format('cells')} cells' worth \\({_size()}\\)",
     N_("lithium-cell signature, about {cells} cells' worth ({length} x {width} mm)")),
    (f"declared documents, image holds about {_N.format('mass')} g of metal",
     N_("declared documents, image holds about {mass} g of metal")),
    (f"declared organic goods only, image holds about {_N.format('mass')} g of metal",
     N_("declared organic goods only, image holds about {mass} g of metal")),
    (f"lithium cells \\(about {_N.format('cells')}\\) but no declared line holds any",
     N_("lithium cells (about {cells}) but no declared line holds any")),
    (f"declared documents, image holds {_N.format('area')} cm² of dense matter",
     N_("declared documents, image holds {area} cm² of dense matter")),
)  # fmt: skip
_DETAILS = tuple((re.compile(f"^{p}$"), words) for p, words in DETAILS)


def flag_name(kind: str) -> str:
    """A flag kind in words with its code (``刀具 (BLADE)``); the code alone when unknown."""
    words = FLAG_NAMES.get(kind)
    return f"{i18n.gettext(words)} ({kind})" if words else kind


def detail_words(detail: str) -> str:
    """A flag's detail line in the page's language (as written when no form fits it)."""
    for pattern, words in _DETAILS:
        m = pattern.match(detail)
        if m is not None:
            return i18n.gettext(words).format(**m.groupdict())
    return detail


def script_details() -> list[tuple[str, str]]:
    """The detail forms for the review station's script: a JavaScript pattern (named groups
    as ``(?<name>…)``) and the words in the page's language, ``{name}`` where a value goes."""
    return [(f"^{p}$".replace("(?P<", "(?<"), i18n.gettext(words)) for p, words in DETAILS]
