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
