"""Currencies, countries, outcomes and chutes in words, in the language of the page.

Declarations name currencies and countries by the China customs numeric codes (``142`` is
China and the yuan, ``502`` the United States and its dollar) or by ISO codes; the names
come from the CLDR data that Babel ships, so every language the hub speaks has them.
"""

from __future__ import annotations

import functools

from babel import Locale, UnknownLocaleError

from hub.web import i18n
from hub.web.i18n import N_

#: China customs currency codes → ISO 4217.
CUSTOMS_CURRENCY: dict[str, str] = {
    "110": "HKD", "116": "JPY", "121": "MOP", "132": "SGD", "133": "KRW", "142": "CNY",
    "143": "TWD", "300": "EUR", "302": "DKK", "303": "GBP", "330": "SEK", "331": "CHF",
    "344": "RUB", "501": "CAD", "502": "USD", "601": "AUD", "609": "NZD",
}  # fmt: skip
#: China customs country codes → ISO 3166-1 alpha-2.
CUSTOMS_COUNTRY: dict[str, str] = {
    "110": "HK", "116": "JP", "121": "MO", "132": "SG", "133": "KR", "142": "CN",
    "143": "TW", "136": "TH", "112": "ID", "122": "MY", "129": "PH", "141": "VN",
    "301": "BE", "302": "DK", "303": "GB", "304": "DE", "305": "FR", "307": "IT",
    "309": "NL", "312": "ES", "330": "SE", "331": "CH", "344": "RU", "501": "CA",
    "502": "US", "601": "AU", "609": "NZ",
}  # fmt: skip
_CLDR = {"zh": "zh_Hans_CN", "en": "en"}

#: What each outcome's chute is, in words.
CHUTE_KINDS: dict[str, str] = {
    "RELEASE": N_("release chute"),
    "INSPECT": N_("inspection chute"),
    "HOLD": N_("hold-cage chute"),
    "RETURN": N_("return chute"),
    "REJECT": N_("reject chute"),
}
#: Outcomes as one word each (the badge of a parcel).
OUTCOME_BADGES: dict[str, str] = {
    "RELEASE": N_("Released"),
    "INSPECT": N_("Inspect"),
    "HOLD": N_("Held"),
    "RETURN": N_("Return"),
    "REJECT": N_("Reject"),
}
#: Role names.
ROLE_NAMES = (N_("operator"), N_("inspector"), N_("supervisor"), N_("filer"), N_("customs"))
ROLE_NAMES_MORE = (N_("admin"), N_("edge"))


@functools.lru_cache(maxsize=4)
def _locale(lang: str) -> Locale | None:
    try:
        return Locale.parse(_CLDR.get(lang, "en"))
    except (UnknownLocaleError, ValueError):
        return None


def currency_name(code: str | None) -> str:
    """The currency's name (``人民币`` / ``Chinese Yuan``), the code when unknown."""
    if not code:
        return ""
    iso = CUSTOMS_CURRENCY.get(code.strip(), code.strip().upper())
    loc = _locale(i18n.current())
    return loc.currencies.get(iso, code) if loc is not None else code


def country_name(code: str | None) -> str:
    """The country's name (``美国`` / ``United States``), the code when unknown."""
    if not code:
        return ""
    raw = code.strip().upper()
    iso = CUSTOMS_COUNTRY.get(raw, raw)
    loc = _locale(i18n.current())
    return loc.territories.get(iso, code) if loc is not None else code


def chute_name(chute: int | None, outcome: str | None) -> str:
    """``release chute 4`` in words; ``chute 4`` when the outcome is not known."""
    if chute is None:
        return "—"
    kind = CHUTE_KINDS.get(outcome or "")
    if kind is None:
        return i18n.gettext("chute {n}").format(n=chute)
    return i18n.gettext("{kind} {n}").format(kind=i18n.gettext(kind), n=chute)


def outcome_badge(outcome: str | None) -> str:
    """The outcome in one word; ``Undecided`` when there is none."""
    if not outcome:
        return i18n.gettext("Undecided")
    return i18n.gettext(OUTCOME_BADGES.get(outcome, outcome))


def customs_status(status: int | None) -> str:
    """A customs returnStatus in words, with its number (``放行 (800)``)."""
    if status is None:
        return i18n.gettext("no receipt from customs yet")
    from hub.web.wording import reason_words
    from inspection.decision import _STATUS_REASON

    if status in (800, 899):
        words = i18n.gettext(N_("released by customs"))
    elif status in _STATUS_REASON:
        words = reason_words(_STATUS_REASON[status].value, i18n.gettext)
    else:
        return str(status)
    return f"{words} ({status})"


#: China customs supervision modes (监管方式) of cross-border e-commerce, in words (GACC
#: announcements 2014 No. 12 for 9610, 2014 No. 57 for 1210, 2016 No. 75 for 1239, 2020
#: No. 75 for 9710 and 9810; 0110 is general trade).
TRADE_MODES: dict[str, str] = {
    "9610": N_("cross-border e-commerce, direct purchase"),
    "1210": N_("bonded cross-border e-commerce"),
    "1239": N_("bonded cross-border e-commerce A"),
    "9710": N_("cross-border e-commerce B2B direct export"),
    "9810": N_("cross-border e-commerce export to overseas warehouses"),
    "0110": N_("general trade"),
}
#: Import/export flag in words.
IE_FLAGS: dict[str, str] = {"I": N_("import"), "E": N_("export")}
#: China customs units of measure (计量单位代码) the sample and common CBEC declarations use.
UNITS: dict[str, str] = {
    "001": N_("unit"), "006": N_("set"), "007": N_("piece"), "011": N_("pieces"),
    "012": N_("stick"), "015": N_("strip"), "025": N_("pair"), "035": N_("kg"),
    "036": N_("g"), "095": N_("litre"), "096": N_("ml"), "120": N_("case"), "125": N_("pack"),
    "132": N_("volume"), "140": N_("box"), "142": N_("bottle"),
}  # fmt: skip


def trade_mode_name(mode: str | None, ie_flag: str | None = None) -> str:
    """A supervision mode and direction in words, with the mode's code (``9610``)."""
    parts = []
    if mode:
        words = TRADE_MODES.get(mode.strip())
        parts.append(f"{i18n.gettext(words)} ({mode})" if words else mode)
    flag = (ie_flag or "").strip().upper()
    if flag:
        parts.append(i18n.gettext(IE_FLAGS[flag]) if flag in IE_FLAGS else flag)
    return " · ".join(parts) or "—"


def unit_name(code: str | None) -> str:
    """A customs unit of measure in words (the code itself when unknown)."""
    if not code:
        return ""
    words = UNITS.get(code.strip().zfill(3) if code.strip().isdigit() else code.strip())
    return i18n.gettext(words) if words else code
