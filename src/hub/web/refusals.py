"""The import report in words: why a record was refused, in the page's language.

The readers and the import write their reasons in English, and the logs, the JSON API and
``clearline import --json`` keep them so. Pages and the command line's report word them
here: each form a reason takes is a pattern whose named groups (field names, quoted values,
numbers, codes, a library's own message) go unchanged into the catalogue's message for that
form; only the groups a form lists in ``terms`` are words, translated through their own
table. A reason no form fits is shown as written. Whole-file errors are worded the same way
in :mod:`hub.web.file_refusals`; ``tests/hub/web/test_refusal_words.py`` feeds deliberately
bad files to the real importers and fails on any reason or error left unworded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hub.web import i18n
from hub.web.i18n import N_

#: JSON type names the readers give (``csvutil.type_name``), in words.
TYPE_WORDS: dict[str, str] = {
    "null": N_("null"), "a boolean": N_("a boolean"), "an object": N_("an object"),
    "a list": N_("a list"), "text": N_("text"), "a number": N_("a number"),
}  # fmt: skip
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_TOKENS = {
    "<V>": f"(?P<value>{_QUOTED})",  # a value as the reader quoted it (repr)
    "<W>": f"(?P<other>{_QUOTED})",
    "<F>": r"(?P<field>[\w.\[\]-]+)",
    "<AT>": r"line (?P<line>\d+) column (?P<column>\d+)",
    "<TYPE>": f"(?P<type>{'|'.join(TYPE_WORDS)})",
    "<S10>": r"(?P<field>[\w.-]+) (?P<value>" + _QUOTED + ")",
}


@dataclass(frozen=True, slots=True)
class Form:
    """One form of reason: its pattern, the message wording it, tables of its word groups."""

    pattern: re.Pattern[str]
    words: str
    terms: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def worded(self, text: str) -> str | None:
        """``text`` in the page's language when it has this form; else None."""
        m = self.pattern.fullmatch(text)
        if m is None:
            return None
        params = m.groupdict()
        for name, table in self.terms.items():
            said = table.get(params[name])
            if said is not None:
                params[name] = i18n.gettext(said)
        return i18n.gettext(self.words) % params


def form(pattern: str, words: str, **terms: Mapping[str, str]) -> Form:
    """A form from a pattern written with the tokens above (``<V>`` a quoted value...)."""
    if "<TYPE>" in pattern:
        terms.setdefault("type", TYPE_WORDS)
    for token, regex in _TOKENS.items():
        pattern = pattern.replace(token, regex)
    return Form(re.compile(pattern, re.S), words, terms)


_TIMES = "yyyyMMdd, yyyyMMddHHmmss or yyyyMMddHHmmssSSS"
_S10_NOT_VALID = r"<S10> is not a valid S10 id: "

#: Reasons the readers (CEB, postal, generic CSV), the checks before storing and the filing
#: rules give for one record; field names and values stay as the reason has them.
RECORD_FORMS: tuple[Form, ...] = (
    # CEB XML (inspection.formats.ceb_build, ceb_notice)
    form(r"required field is missing or empty", N_("required field is missing or empty")),
    form(r"required field is missing or empty \(bonded mode (?P<mode>\d+)\)",
         N_("required field is missing or empty (bonded mode %(mode)s)")),
    form(r"<V> is not a decimal number", N_("%(value)s is not a decimal number")),
    form(r"must not be negative", N_("must not be negative")),
    form(r"<V> is not a real calendar date and time \(" + _TIMES + r"\)",
         N_("%(value)s is not a real calendar date and time (yyyyMMdd, yyyyMMddHHmmss or "
            "yyyyMMddHHmmssSSS)")),
    form(r"<V> is not a time of the form " + _TIMES,
         N_("%(value)s is not a time of the form yyyyMMdd, yyyyMMddHHmmss or "
            "yyyyMMddHHmmssSSS")),
    form(r"<V> is not a whole number", N_("%(value)s is not a whole number")),
    form(r"must be 1 or more", N_("must be 1 or more")),
    form(r"a code must not contain ':' \(it separates the business key\)",
         N_("a code must not contain ':' (it separates the business key)")),
    form(r"<V> contradicts (?P<type>\w+) \((?P<flag>\w+)\)",
         N_("%(value)s contradicts %(type)s (%(flag)s)")),
    form(r"trade mode <V> is not an import mode for (?P<type>\w+) \(one of (?P<modes>[\w, ]+)\)",
         N_("trade mode %(value)s is not an import mode for %(type)s (one of %(modes)s)")),
    form(r"trade mode <V> is not an export mode for (?P<type>\w+) \(one of (?P<modes>[\w, ]+)\)",
         N_("trade mode %(value)s is not an export mode for %(type)s (one of %(modes)s)")),
    form(r"trade mode <V> is not one of (?P<modes>[\w, ]+)",
         N_("trade mode %(value)s is not one of %(modes)s")),
    form(r"<V> is not I or E", N_("%(value)s is not I or E")),
    form(r"record has more than one (?P<element>\w+)", N_("record has more than one %(element)s")),
    form(r"record has no (?P<element>\w+)", N_("record has no %(element)s")),
    form(r"at least one (?P<element>\w+) is required", N_("at least one %(element)s is required")),
    form(r"HS code <V> must be digits only", N_("HS code %(value)s must be digits only")),
    # postal JSON and CSV, generic CSV (inspection.formats.postal, generic_csv, csvutil)
    form(r"<S10> is not a UPU S10 id \(2 letters, 9 digits, 2 letters\)",
         N_("%(field)s %(value)s is not a UPU S10 id (2 letters, 9 digits, 2 letters)")),
    form(r"<S10> fails the S10 check digit \(expected (?P<digit>\d)\)",
         N_("%(field)s %(value)s fails the S10 check digit (expected %(digit)s)")),
    form(_S10_NOT_VALID + r"service indicator (?P<code>\w+) is reserved",
         N_("%(field)s %(value)s is not a valid S10 id: service indicator %(code)s is reserved")),
    form(_S10_NOT_VALID + r"check digit does not match",
         N_("%(field)s %(value)s is not a valid S10 id: check digit does not match")),
    form(_S10_NOT_VALID + r"country (?P<code>\w+) is not an ISO 3166 code",
         N_("%(field)s %(value)s is not a valid S10 id: country %(code)s is not an ISO 3166 "
            "code")),
    form(_S10_NOT_VALID + r"not 2 letters, 8 digits, a check digit and 2 letters",
         N_("%(field)s %(value)s is not a valid S10 id: not 2 letters, 8 digits, a check digit "
            "and 2 letters")),
    form(r"<F> is required", N_("%(field)s is required")),
    form(r"contents line (?P<line>\d+) must be an object, not <TYPE>",
         N_("contents line %(line)s must be an object, not %(type)s")),
    form(r"<F> must be an object, not <TYPE>", N_("%(field)s must be an object, not %(type)s")),
    form(r"an item must be a JSON object, not <TYPE>",
         N_("an item must be a JSON object, not %(type)s")),
    form(r"<F> must be text, not <TYPE>", N_("%(field)s must be text, not %(type)s")),
    form(r"<F> must be a number, not <TYPE>", N_("%(field)s must be a number, not %(type)s")),
    form(r"<F> must be a whole number, not <TYPE>",
         N_("%(field)s must be a whole number, not %(type)s")),
    form(r"<F> <V> is not a number", N_("%(field)s %(value)s is not a number")),
    form(r"<F> <V> is not a finite number", N_("%(field)s %(value)s is not a finite number")),
    form(r"<F> <V> is negative", N_("%(field)s %(value)s is negative")),
    form(r"<F> <V> is not a whole number", N_("%(field)s %(value)s is not a whole number")),
    form(r"<F> <V> is not an ISO 8601 date-time",
         N_("%(field)s %(value)s is not an ISO 8601 date-time")),
    form(r"<F> <V> is not a two-letter country code",
         N_("%(field)s %(value)s is not a two-letter country code")),
    form(r"<F> <V> is not a three-letter currency code",
         N_("%(field)s %(value)s is not a three-letter currency code")),
    form(r"<F> <V> is not 4-13 digits", N_("%(field)s %(value)s is not 4-13 digits")),
    form(r"<F> <V> is not one of (?P<choices>\[.*\])",
         N_("%(field)s %(value)s is not one of %(choices)s")),
    form(r"<F> <V> is not CN22 or CN23", N_("%(field)s %(value)s is not CN22 or CN23")),
    form(r"<F> <V> is not I or E", N_("%(field)s %(value)s is not I or E")),
    form(r"<F> <V> is not a 4-digit customs mode",
         N_("%(field)s %(value)s is not a 4-digit customs mode")),
    form(r"<F> <V> is not a currency code \(CNY or 142\)",
         N_("%(field)s %(value)s is not a currency code (CNY or 142)")),
    form(r"<F> <V> is not a 2- or 3-character country code",
         N_("%(field)s %(value)s is not a 2- or 3-character country code")),
    form(r"contents must be a non-empty list of contents lines",
         N_("contents must be a non-empty list of contents lines")),
    form(r"a receipt \(with return_status\) carries no contents",
         N_("a receipt (with return_status) carries no contents")),
    form(r"<F> (?P<status>-?\d+) is not a customs status code",
         N_("%(field)s %(status)s is not a customs status code")),
    form(r"line (?P<line>\d+) has (?P<count>\d+) more cell\(s\) than the header",
         N_("line %(line)s has %(count)s more cell(s) than the header")),
    form(r"<F> differs between rows of one record: <V> on line (?P<first>\d+), <W> on line "
         r"(?P<second>\d+)",
         N_("%(field)s differs between rows of one record: %(value)s on line %(first)s, "
            "%(other)s on line %(second)s")),
    # checks before storing (hub.importing.rows, importer)
    form(r"business key is empty", N_("business key is empty")),
    form(r"receipt names no declaration \(empty key\)",
         N_("receipt names no declaration (empty key)")),
    form(r"status (?P<value>.+) is invalid", N_("status %(value)s is invalid")),
    form(r"amount (?P<value>.+) is not a decimal number",
         N_("amount %(value)s is not a decimal number")),
    form(r"amount (?P<value>\S+) has more than (?P<places>\d+) decimal places",
         N_("amount %(value)s has more than %(places)s decimal places")),
    form(r"amount (?P<value>\S+) is not a number below (?P<limit>[\d,.]+) that this database "
         r"keeps exactly",
         N_("amount %(value)s is not a number below %(limit)s that this database keeps "
            "exactly")),
    form(r"(?P<value>.+) is before year 1 in UTC", N_("%(value)s is before year 1 in UTC")),
    form(r"(?P<value>.+) is not a date and time", N_("%(value)s is not a date and time")),
    form(r"goods line number (?P<value>\S+) appears twice",
         N_("goods line number %(value)s appears twice")),
    form(r"goods line number (?P<value>\S+) is not a whole number below 2\*\*31",
         N_("goods line number %(value)s is not a whole number below 2**31")),
    form(r"extra fields cannot be stored: (?P<error>.+)",
         N_("extra fields cannot be stored: %(error)s")),
    form(r"expected text, got (?P<type>\w+)", N_("expected text, got %(type)s")),
    form(r"text is not valid Unicode", N_("text is not valid Unicode")),
    form(r"a field has an unexpected type", N_("a field has an unexpected type")),
    form(r"the database refused the record: (?P<error>.+)",
         N_("the database refused the record: %(error)s")),
    form(r"unexpected record type (?P<type>\w+)", N_("unexpected record type %(type)s")),
    # who may file what (hub.services.declarations)
    form(r"(?P<field>\w+) <V> is not enterprise (?P<code>\S+): a filer files only as the "
         r"declaring enterprise",
         N_("%(field)s %(value)s is not enterprise %(code)s: a filer files only as the "
            "declaring enterprise")),
    form(r"the declaration does not name enterprise (?P<code>\S+)",
         N_("the declaration does not name enterprise %(code)s")),
    form(r"this business key belongs to another enterprise's declaration",
         N_("this business key belongs to another enterprise's declaration")),
    form(r"no declaration of enterprise (?P<code>\S+) has this business key",
         N_("no declaration of enterprise %(code)s has this business key")),
    form(r"(?P<type>\w+) is customs' answer; only the customs channel files it",
         N_("%(type)s is customs' answer; only the customs channel files it")),
    form(r"the customs channel files receipts, not declarations",
         N_("the customs channel files receipts, not declarations")),
)  # fmt: skip

#: Where in its file a postal or generic CSV record was, as a reason ends with it.
WHERE_FORMS: tuple[Form, ...] = (
    form(r"item at <AT>", N_("item at line %(line)s column %(column)s")),
    form(r"line (?P<line>\d+)", N_("line %(line)s")),
    form(r"lines (?P<first>\d+)-(?P<last>\d+)", N_("lines %(first)s-%(last)s")),
)
_WHERE = re.compile(r"(?P<core>.+) \((?P<where>item at line \d+ column \d+|lines? [\d-]+)\)", re.S)


def first(forms: tuple[Form, ...], text: str) -> str | None:
    """``text`` worded by the first form it has; None when it has none."""
    for f in forms:
        said = f.worded(text)
        if said is not None:
            return said
    return None


def worded_record(reason: str) -> str | None:
    """A record's refusal in the page's language; None when no form fits it."""
    said = first(RECORD_FORMS, reason)
    if said is not None:
        return said
    m = _WHERE.fullmatch(reason)
    if m is None:
        return None
    problem, where = first(RECORD_FORMS, m["core"]), first(WHERE_FORMS, m["where"])
    if problem is None or where is None:
        return None
    return i18n.gettext(N_("%(problem)s (%(where)s)")) % {"problem": problem, "where": where}


def record_words(reason: str) -> str:
    """A record's refusal in the page's language (as written when no form fits it)."""
    said = worded_record(reason)
    return reason if said is None else said
