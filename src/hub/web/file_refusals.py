"""Why a whole file was refused or broke off (``FileReport.error``), in the page's language.

A file's error starts with its name (``{file}: ...``), and with ``the file broke at record N:``
when records before the break were read; the rest is worded through the forms below, as
:mod:`hub.web.refusals` words a record's reasons. Library messages quoted in an error (the
XML parser's, the CSV module's) are shown as they come, the JSON decoder's few in words.
"""

from __future__ import annotations

import re

from hub.web import i18n
from hub.web.i18n import N_
from hub.web.refusals import Form, first, form

#: The place in a JSON file a character was expected at, in words.
JSON_PLACES: dict[str, str] = {
    "to open the list of items": N_("to open the list of items"),
    "after an item": N_("after an item"),
    "to open an object": N_("to open an object"),
    "to start a property name": N_("to start a property name"),
    "after a property name": N_("after a property name"),
    "after a property": N_("after a property"),
}
#: What the JSON decoder says of broken text (its other messages are shown as they come).
JSON_SAYS: dict[str, str] = {
    "Expecting value": N_("Expecting value"),
    "Expecting ',' delimiter": N_("Expecting ',' delimiter"),
    "Expecting ':' delimiter": N_("Expecting ':' delimiter"),
    "Expecting property name enclosed in double quotes": N_(
        "Expecting property name enclosed in double quotes"
    ),
    "Unterminated string starting at": N_("Unterminated string starting at"),
    "Invalid control character at": N_("Invalid control character at"),
    "Invalid \\escape": N_("Invalid \\escape"),
    "Extra data": N_("Extra data"),
    "end of file": N_("end of file"),
}
#: The CSV layouts whose header must hold given columns.
CSV_KINDS: dict[str, str] = {
    "postal receipt CSV": N_("postal receipt CSV"),
    "postal CSV": N_("postal CSV"),
    "generic CSV": N_("generic CSV"),
}

#: Reasons a whole file is refused (what follows its name in ``FileReport.error``).
FILE_FORMS: tuple[Form, ...] = (
    # finding the format (inspection.formats.detect)
    form(r"file is empty", N_("file is empty")),
    form(r"XML root element <V> is not a CEB message \(expected <CEBnnnMessage> in namespace "
         r"(?P<ns>\S+)\)",
         N_("XML root element %(value)s is not a CEB message (expected <CEBnnnMessage> in "
            "namespace %(ns)s)")),
    form(r"not UTF-8 text and not XML \((?P<error>.*)\)",
         N_("not UTF-8 text and not XML (%(error)s)")),
    form(r"first line is not CSV \((?P<error>.*)\)", N_("first line is not CSV (%(error)s)")),
    form(r"not a CEB XML message, postal JSON, postal CSV \(needs an 'item_id' column\) or "
         r"generic CSV \(needs a 'code' column\); first line: (?P<value>.*)",
         N_("not a CEB XML message, postal JSON, postal CSV (needs an 'item_id' column) or "
            "generic CSV (needs a 'code' column); first line: %(value)s")),
    form(r"claimed (?P<claimed>\S+) but the file is (?P<found>\S+)",
         N_("claimed %(claimed)s but the file is %(found)s")),
    form(r"unknown format <V>; known: (?P<known>.+)",
         N_("unknown format %(value)s; known: %(known)s")),
    # CEB XML (inspection.formats.ceb_read)
    form(r"CEB message type <V> is not read here; supported: (?P<known>.+)",
         N_("CEB message type %(value)s is not read here; supported: %(known)s")),
    form(r"a DOCTYPE declaration \((?P<name>.*)\) at line (?P<line>\d+) is refused: a CEB "
         r"message carries none, and a document type can make the reader open other files",
         N_("a DOCTYPE declaration (%(name)s) at line %(line)s is refused: a CEB message "
            "carries none, and a document type can make the reader open other files")),
    form(r"not well-formed XML before the root element \((?P<error>.*)\)",
         N_("not well-formed XML before the root element (%(error)s)")),
    form(r"no XML root element found, expected a CEB XML message",
         N_("no XML root element found, expected a CEB XML message")),
    form(r"file is empty, expected a CEB XML message",
         N_("file is empty, expected a CEB XML message")),
    form(r"no XML root element in the first (?P<count>\d+) bytes",
         N_("no XML root element in the first %(count)s bytes")),
    form(r"is a (?P<found>\S+) message, expected (?P<expected>\S+)",
         N_("is a %(found)s message, expected %(expected)s")),
    form(r"root element <(?P<element>[^>]*)> is not a (?P<expected>\S+) message \(expected "
         r"<(?P<want>[^>]*)> in namespace (?P<ns>\S+)\)",
         N_("root element <%(element)s> is not a %(expected)s message (expected <%(want)s> in "
            "namespace %(ns)s)")),
    form(r"XML is not well-formed at line (?P<line>\S+) \((?P<error>.*)\); (?P<count>\d+) "
         r"record\(s\) before it were read, records after line (?P=line) were not read",
         N_("XML is not well-formed at line %(line)s (%(error)s); %(count)s record(s) before "
            "it were read, records after line %(line)s were not read")),
    # the DxpMsg envelope (inspection.formats.dxp)
    form(r"DxpMsg envelope carries a DOCTYPE or entity; refused",
         N_("DxpMsg envelope carries a DOCTYPE or entity; refused")),
    form(r"DxpMsg envelope is not well-formed XML \((?P<error>.*)\)",
         N_("DxpMsg envelope is not well-formed XML (%(error)s)")),
    form(r"root element is not a DxpMsg envelope", N_("root element is not a DxpMsg envelope")),
    form(r"DxpMsg\.Data is missing or empty", N_("DxpMsg.Data is missing or empty")),
    form(r"DxpMsg\.Data is not Base64 \((?P<error>.*)\)",
         N_("DxpMsg.Data is not Base64 (%(error)s)")),
    form(r"DxpMsg envelope larger than (?P<count>\d+) bytes",
         N_("DxpMsg envelope larger than %(count)s bytes")),
    form(r"DxpMsg MsgType <V> but Data carries (?P<found>\S+)",
         N_("DxpMsg MsgType %(value)s but Data carries %(found)s")),
    # CSV (inspection.formats.csvutil)
    form(r"not UTF-8 text near byte (?P<offset>\d+) \((?P<error>.*)\)",
         N_("not UTF-8 text near byte %(offset)s (%(error)s)")),
    form(r"a line is longer than (?P<count>\d+) characters",
         N_("a line is longer than %(count)s characters")),
    form(r"file is empty \(no CSV header\)", N_("file is empty (no CSV header)")),
    form(r"CSV error in the header: (?P<error>.*)", N_("CSV error in the header: %(error)s")),
    form(r"column <V> appears twice in the header",
         N_("column %(value)s appears twice in the header")),
    form(r"CSV error at line (?P<line>\d+): (?P<error>.*)",
         N_("CSV error at line %(line)s: %(error)s")),
    form(r"(?P<kind>postal receipt CSV|postal CSV|generic CSV) header lacks required "
         r"column\(s\): (?P<columns>.+)",
         N_("%(kind)s header lacks required column(s): %(columns)s"), kind=CSV_KINDS),
    # JSON (inspection.formats.jsonstream)
    form(r"JSON syntax error at <AT>: expected (?P<wanted>'.') (?P<place>[a-z ]+), found "
         r"(?P<found>.+)",
         N_("JSON syntax error at line %(line)s column %(column)s: expected %(wanted)s "
            "%(place)s, found %(found)s"), place=JSON_PLACES, found=JSON_SAYS),
    form(r"JSON syntax error at <AT>: expected (?P<wanted>'.') or (?P<other>'.') "
         r"(?P<place>[a-z ]+), found (?P<found>.+)",
         N_("JSON syntax error at line %(line)s column %(column)s: expected %(wanted)s or "
            "%(other)s %(place)s, found %(found)s"), place=JSON_PLACES, found=JSON_SAYS),
    form(r"JSON syntax error at <AT>: (?P<error>.+)",
         N_("JSON syntax error at line %(line)s column %(column)s: %(error)s"), error=JSON_SAYS),
    form(r"the JSON value at <AT> is longer than (?P<count>\d+) characters; no item is that "
         r"large",
         N_("the JSON value at line %(line)s column %(column)s is longer than %(count)s "
            "characters; no item is that large")),
    form(r"JSON nested too deeply at <AT>",
         N_("JSON nested too deeply at line %(line)s column %(column)s")),
    form(r"unexpected data after the end of the JSON document at <AT>",
         N_("unexpected data after the end of the JSON document at line %(line)s column "
            "%(column)s")),
    form(r"empty file \(no JSON value\)", N_("empty file (no JSON value)")),
    form(r"not JSON items: the document starts with (?P<value>.+) at <AT>, expected '\[' \(a "
         r"list of items\) or '\{' \(an object\)",
         N_("not JSON items: the document starts with %(value)s at line %(line)s column "
            "%(column)s, expected '[' (a list of items) or '{' (an object)")),
    # reading and uploading (hub.importing.importer, hub.web.filing)
    form(r"cannot read the file \((?P<error>.*)\)", N_("cannot read the file (%(error)s)")),
    form(r"the file is larger than (?P<count>\d+) bytes",
         N_("the file is larger than %(count)s bytes")),
)  # fmt: skip
_BROKE = re.compile(r"the file broke at record (?P<record>\d+): (?P<rest>.+)", re.S)


def _named(error: str, source: str) -> str | None:
    """A file error that starts with the file's name, worded; None when no form fits."""
    inner = f"{source} (DxpMsg Data): "  # the CEB message inside a DxpMsg envelope
    if error.startswith(inner):
        file = i18n.gettext(N_("%(file)s (DxpMsg Data)")) % {"file": source}
        rest = error[len(inner) :]
    elif error.startswith(f"{source}: "):
        file, rest = source, error[len(source) + 2 :]
    else:
        return None
    problem = first(FILE_FORMS, rest)
    if problem is None:
        return None
    return i18n.gettext(N_("%(file)s: %(problem)s")) % {"file": file, "problem": problem}


def worded_file(error: str, source: str) -> str | None:
    """Why file ``source`` was refused or broke off (``FileReport.error``) in the page's
    language; None when no form fits it."""
    m = _BROKE.fullmatch(error)
    if m is None:
        return _named(error, source)
    problem = _named(m["rest"], source)
    if problem is None:
        return None
    words = N_("the file broke at record %(record)s: %(problem)s")
    return i18n.gettext(words) % {"record": m["record"], "problem": problem}


def file_words(error: str, source: str) -> str:
    """A file's refusal in the page's language (as written when no form fits it)."""
    said = worded_file(error, source)
    return error if said is None else said
