"""The languages of the hub pages: Simplified Chinese by default, English on request.

Messages are kept the way Python projects keep them: the English text is the message id,
``hub/web/locale/<locale>/LC_MESSAGES/messages.po`` holds each language's translation
(Babel / gettext), and ``messages.mo`` is its compiled form. A ``.mo`` older than its
``.po`` (or missing, in a fresh checkout) is compiled from the ``.po`` at first use.

Which language a page speaks (:func:`choose`): a choice made for this request (``?lang=``,
or the ``clearline_lang`` cookie set by the switch ``/lang/{code}``), else the language set
for the signed-in user (their own page ``/me``, or an administrator), else the browser's
``Accept-Language``, else Chinese.
"""

from __future__ import annotations

import contextvars
import functools
import gettext as gettext_module
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path

from babel.dates import get_timezone_location
from fastapi import Request

log = logging.getLogger(__name__)

#: Where the catalogues live.
LOCALE_DIR = Path(__file__).with_name("locale")
#: Language code shown to people → gettext locale of its catalogue (English needs none).
LANGUAGES: dict[str, str] = {"zh": "zh_CN", "en": "en"}
#: The language of a page when nothing asks for another.
DEFAULT = "zh"
#: The cookie that keeps a person's choice.
COOKIE = "clearline_lang"
#: The query parameter that asks for a language for one request.
QUERY = "lang"
#: Where the signed-in user's own language is kept on the request (``request.state``).
STATE = "user_language"
#: Names of the languages, each in its own words (for the switch on every page).
NAMES: dict[str, str] = {"zh": "中文", "en": "English"}


def N_(text: str) -> str:  # noqa: N802 (the gettext convention for "mark, translate later")
    """Mark ``text`` for the catalogue without translating it here."""
    return text


#: Words that scripts show from data (outcomes, reasons' codes, verdicts, grades, kinds).
SCRIPT_COMMON: tuple[str, ...] = (
    N_("RELEASE"), N_("INSPECT"), N_("HOLD"), N_("RETURN"), N_("REJECT"), N_("UNDECIDED"),
    N_("clear"), N_("suspect"), N_("hold"),
    N_("advanced"), N_("general"), N_("dishonest"),
    N_("inventory"), N_("order"), N_("waybill"), N_("payment"), N_("postal"), N_("generic"),
    N_("colour"), N_("grey"), N_("organic"), N_("inorganic"), N_("density"), N_("contrast"),
    N_("invert"), N_("scanner"), N_("scale"), N_("plc"), N_("xray"), N_("checkweigher"),
    N_("CNY"), N_("released"), N_("sent to manual inspection"), N_("held in the cage"),
    N_("returned to sender"),
    N_("rejected for a technical reason (manual coding or recirculation)"),
    N_("not decided yet"), N_("consistent"), N_("seized"), N_("returned"),
    N_("gross weight"),
)  # fmt: skip

_current: contextvars.ContextVar[str] = contextvars.ContextVar("clearline_lang", default=DEFAULT)


def _compiled(po: Path) -> bytes:
    """The ``.mo`` bytes of one ``.po``, compiled with Babel."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


@functools.lru_cache(maxsize=8)
def translations(lang: str) -> gettext_module.NullTranslations:
    """The translations of ``lang``: the ``.mo``, or the ``.po`` compiled when the ``.mo`` is
    missing or older (then written beside it when the folder is writable)."""
    import io

    locale = LANGUAGES.get(lang)
    if locale is None or lang == "en":
        return gettext_module.NullTranslations()
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    po, mo = folder / "messages.po", folder / "messages.mo"
    try:
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            return gettext_module.GNUTranslations(io.BytesIO(mo.read_bytes()))
        data = _compiled(po)
    except OSError as err:
        log.warning("no %s catalogue (%s); pages fall back to English", locale, err)
        return gettext_module.NullTranslations()
    try:
        mo.write_bytes(data)
    except OSError:
        log.debug("%s not writable; the catalogue is compiled in memory", mo)
    return gettext_module.GNUTranslations(io.BytesIO(data))


def current() -> str:
    """The language of the page being rendered."""
    return _current.get()


def zone_name(zone: tzinfo) -> str:
    """A time zone's place name in the page's language, e.g. 中国（上海）时间."""
    return get_timezone_location(zone, locale=LANGUAGES.get(current(), "en"))


def gettext(message: str) -> str:
    """``message`` in the language of the page being rendered."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message in the language of the page being rendered."""
    return translations(_current.get()).ngettext(singular, plural, n)


def translator(lang: str) -> Callable[[str], str]:
    """A ``gettext`` bound to ``lang``, for words made outside a template."""
    return translations(lang if lang in LANGUAGES else DEFAULT).gettext


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Render in ``lang`` inside the block."""
    token = _current.set(lang if lang in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


_QUALITY = re.compile(r"^\s*([A-Za-z]{1,8})(?:[-_][A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?")


def from_accept_language(header: str) -> str | None:
    """The first language of ``Accept-Language`` (by quality) that the hub speaks."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        m = _QUALITY.match(part)
        if not m:
            continue
        try:
            q = float(m.group(2)) if m.group(2) else 1.0
        except ValueError:
            continue
        lang = m.group(1).lower()
        if lang in LANGUAGES and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def cli_language(env: dict[str, str] | None = None) -> str:
    """The language of the command line's human output: ``CLEARLINE_LANG``, else the POSIX
    locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``); Chinese for a ``zh`` locale, else English."""
    import os

    source = os.environ if env is None else env
    for key in ("CLEARLINE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = source.get(key, "").strip().lower()
        if value and value not in ("c", "posix") and not value.startswith("c."):
            return "zh" if value.startswith("zh") else "en"
    return "en"


def choose(request: Request, user_language: str | None = None) -> str:
    """The language of a page for this request: ``?lang=``, the switch's cookie, the user's
    setting (``user_language``, else what the sign-in check left on the request), the
    browser's ``Accept-Language``, Chinese."""
    for chosen in (request.query_params.get(QUERY, ""), request.cookies.get(COOKIE, "")):
        if chosen in LANGUAGES:
            return chosen
    if user_language is None:
        user_language = str(getattr(request.state, STATE, "") or "")
    if user_language in LANGUAGES:
        return user_language
    return from_accept_language(request.headers.get("accept-language", "")) or DEFAULT
