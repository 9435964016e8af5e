"""The one Jinja2 environment of the hub pages, over ``hub/web/templates``, with gettext."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.web import i18n

#: The folder of the hub's page templates.
TEMPLATES = Path(__file__).with_name("templates")
#: ``t("…")`` or ``tr("…")`` in a page's script: a message the browser shows (translated here).
SCRIPT_WORD = re.compile(r'\btr?\("((?:[^"\\\n]|\\.)*)"\)')


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the hub templates (HTML autoescaped, i18n extension)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


def unescape(text: str) -> str:
    """A script's string literal as the text it stands for (``\\"`` → ``"``)."""
    return json.loads(f'"{text}"') if "\\" in text else text


@lru_cache(maxsize=32)
def script_words(name: str) -> tuple[str, ...]:
    """The messages that the scripts of template ``name`` (and what it extends) show."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    found = [unescape(m) for m in SCRIPT_WORD.findall(text)]
    parent = re.search(r'{%\s*extends\s+"([^"]+)"', text)
    if parent:
        found.extend(script_words(parent.group(1)))
    return tuple(dict.fromkeys(found))


def render(
    name: str, lang: str = i18n.DEFAULT, extra_words: tuple[str, ...] = (), **context: object
) -> str:
    """Render the template ``name`` in ``lang`` with ``context``.

    Every page gets ``lang``, the language switch and ``words``: the translations of the
    messages its scripts show (``t("…")``).
    """
    with i18n.speaking(lang):
        words = {
            w: i18n.gettext(w) for w in (*script_words(name), *i18n.SCRIPT_COMMON, *extra_words)
        }
        return (
            environment()
            .get_template(name)
            .render(lang=i18n.current(), languages=i18n.NAMES, words=words, **context)
        )
