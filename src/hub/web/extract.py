"""Babel extraction of the hub pages: Jinja2 ``_()`` / ``{% trans %}`` and the scripts' ``t()``.

Used by ``pybabel extract -F babel.cfg`` (see ``docs/languages.md``) and by the test that
fails on an untranslated message.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from jinja2.ext import babel_extract

from hub.web.templates import SCRIPT_WORD, unescape

Extracted = tuple[int, str, Any, list[str]]


def extract_page(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any] | Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Every message of one page template: Jinja2's, then those its scripts show."""
    data = fileobj.read()
    opts = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
    opts.update(options)
    yield from babel_extract(io.BytesIO(data), keywords, comment_tags, opts)  # type: ignore[arg-type]
    text = data.decode("utf-8")
    for match in SCRIPT_WORD.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield line, "gettext", unescape(match.group(1)), []
