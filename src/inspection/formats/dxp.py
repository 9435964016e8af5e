"""The ``DxpMsg`` transfer envelope: a CEB message carried Base64-encoded in its ``Data``."""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from inspection.formats.ceb_read import read_ceb
from inspection.formats.detect import DXP_NS, HEAD_BYTES, detect_format
from inspection.model import FormatError, ParsedRecord

_NS = "{" + DXP_NS.decode() + "}"
#: Largest envelope read (bytes); the CEB message inside is at most three quarters of it.
MAX_ENVELOPE = 256 * 1024 * 1024


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
        remove_comments=True, remove_pis=True,
    )  # fmt: skip


def unwrap_dxp(data: bytes, source: str) -> tuple[bytes, str]:
    """Return the CEB message inside a ``DxpMsg`` envelope and the envelope's ``MsgType``."""
    if b"<!DOCTYPE" in data[:HEAD_BYTES] or b"<!ENTITY" in data[:HEAD_BYTES]:
        raise FormatError(f"{source}: DxpMsg envelope carries a DOCTYPE or entity; refused")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        raise FormatError(f"{source}: DxpMsg envelope is not well-formed XML ({err.msg})") from err
    if root.tag != _NS + "DxpMsg":
        raise FormatError(f"{source}: root element is not a DxpMsg envelope")
    msg_type = (root.findtext(f"{_NS}TransInfo/{_NS}MsgType") or "").strip()
    text = root.findtext(_NS + "Data")
    if not text or not text.strip():
        raise FormatError(f"{source}: DxpMsg.Data is missing or empty")
    try:
        inner = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise FormatError(f"{source}: DxpMsg.Data is not Base64 ({err})") from err
    return inner, msg_type


def read_dxp(stream: BinaryIO, *, source: str) -> Iterator[ParsedRecord]:
    """Stream the records of the CEB message inside a ``DxpMsg`` envelope.

    The envelope's ``MsgType``, when given, must agree with the message inside.
    """
    data = stream.read(MAX_ENVELOPE + 1)
    if len(data) > MAX_ENVELOPE:
        raise FormatError(f"{source}: DxpMsg envelope larger than {MAX_ENVELOPE} bytes")
    inner, msg_type = unwrap_dxp(data, source)
    where = f"{source} (DxpMsg Data)"
    fmt = detect_format(inner[:HEAD_BYTES], where, "ceb")
    if msg_type and msg_type.upper() != fmt.message_type:
        raise FormatError(
            f"{source}: DxpMsg MsgType {msg_type!r} but Data carries {fmt.message_type}"
        )
    return read_ceb(io.BytesIO(inner), source=where, expected_type=fmt.message_type)
