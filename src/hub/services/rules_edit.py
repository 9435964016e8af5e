"""Rules as a supervisor changes them: one threshold at a time in the YAML text (its comments
and layout kept), and what changed between two versions, key by key (old → new)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from hub.services.errors import Invalid

#: A plain number as a form gives it (no sign, no exponent).
NUMBER = re.compile(r"^\d{1,12}(\.\d{1,9})?$")
#: Most differences kept in one audit row.
MAX_CHANGES = 50


def _key_line(key: str) -> re.Pattern[str]:
    """A block-mapping line of ``key`` (bare or quoted), its value and its comment."""
    k = re.escape(key)
    return re.compile(
        rf"^(?P<head>(?:{k}|\"{k}\"|'{k}')\s*:[ \t]*)(?P<value>[^#\r\n]*?)(?P<tail>[ \t]*(?:#.*)?)$"
    )


def set_value(text: str, path: str, value: str) -> str:
    """``text`` with the scalar at dotted ``path`` (block style) set to ``value``, the rest of
    every line kept; raise :class:`Invalid` when the path names no scalar."""
    lines = text.splitlines(keepends=True)
    start, end, indent, hit = 0, len(lines), -1, -1
    for key in path.split("."):
        child: int | None = None
        hit = -1
        pattern = _key_line(key)
        for i in range(start, end):
            body = lines[i].lstrip(" ")
            if not body.strip() or body.startswith("#"):
                continue
            here = len(lines[i]) - len(body)
            if here <= indent:
                break
            child = here if child is None else child
            if here == child and pattern.match(body.rstrip("\r\n")):
                hit = i
                break
        if hit < 0 or child is None:
            raise Invalid(f"the rules have no {path}", field=path)
        indent, start = child, hit + 1
    line = lines[hit]
    ending = line[len(line.rstrip("\r\n")) :]
    body = line.rstrip("\r\n")
    pad = body[: len(body) - len(body.lstrip(" "))]
    m = _key_line(path.rsplit(".", 1)[-1]).match(body.lstrip(" "))
    if m is None or not m.group("value").strip():
        raise Invalid(f"{path} is not a single value", field=path)
    lines[hit] = f"{pad}{m.group('head')}{value}{m.group('tail')}{ending}"
    return "".join(lines)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A parsed rules document as dotted keys → values (lists stay whole)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _shown(value: Any) -> str:
    """A value as the change list shows it ('' when absent)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)[:300]
    return str(value)[:300]


def differences(old_text: str, new_text: str) -> list[dict[str, str]]:
    """Each key whose value differs between two rules texts: ``{key, old, new}``, by key."""
    try:
        old = flatten(yaml.safe_load(old_text) or {})
        new = flatten(yaml.safe_load(new_text) or {})
    except yaml.YAMLError:
        return []
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    return [{"key": k, "old": _shown(old.get(k)), "new": _shown(new.get(k))} for k in keys]


def with_thresholds(text: str, values: dict[str, str], version: str) -> str:
    """``text`` with each changed threshold and the new ``version`` set, checked to differ
    from ``text`` in exactly those keys; raise :class:`Invalid` for a value that is not a
    plain number."""
    current = flatten(yaml.safe_load(text) or {})
    out = text
    wanted: set[str] = set()
    for path, raw in values.items():
        given = raw.strip()
        if not NUMBER.match(given):
            raise Invalid(f"{path}: give a plain number, not {given[:20]!r}", field=path)
        try:
            same = path in current and float(current[path]) == float(given)
        except (TypeError, ValueError):
            same = False  # not a number now: the change is checked like any other
        if same:
            continue
        out = set_value(out, path, given)
        wanted.add(path)
    if not wanted:
        return text
    out = set_value(out, "version", json.dumps(version.strip(), ensure_ascii=False))
    changed = {d["key"] for d in differences(text, out)} - {"version"}
    if changed != wanted:
        raise Invalid("the rules file could not be changed key by key; edit its text", field="text")
    return out
