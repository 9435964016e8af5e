"""YAML configuration files validated by pydantic, with errors that name file, line and key.

The one import here beyond the standard library and pydantic is the YAML parser (PyYAML,
pure parsing, no I/O): configuration errors must name the line, and every layer loads its
configuration through this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import ValidationError

Loc = tuple[str | int, ...]


def read_yaml(text: str, source: str, error: type[Exception]) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text into data and its node tree; raise ``error`` naming the source and line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or err
        raise error(f"{source}{line}: not valid YAML: {problem}") from None
    duplicate = _first_duplicate(root, ())
    if duplicate is not None:
        dotted, at = duplicate
        raise error(f"{source}:{at}: {dotted}: duplicate key (a second block would win silently)")
    return data, root


def _first_duplicate(node: yaml.Node | None, path: tuple[str, ...]) -> tuple[str, int] | None:
    """The dotted path and 1-based line of the first key repeated in a mapping, or None."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                return ".".join((*path, name)), key.start_mark.line + 1
            seen.add(name)
            found = _first_duplicate(value, (*path, name))
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _first_duplicate(item, (*path, str(i)))
            if found is not None:
                return found
    return None


def line_of(root: yaml.Node | None, loc: Loc) -> int:
    """Return the 1-based line of the key at ``loc`` (or of its nearest parent that exists)."""
    node, line = root, 1 if root is None else root.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def describe(
    err: ValidationError, root: yaml.Node | None, source: str, skip: Iterable[str] = ()
) -> list[str]:
    """One ``source:line: dotted.key: message`` per validation error.

    ``skip`` names location parts that exist only in the model (e.g. a discriminated union's
    tag) and not in the file.
    """
    hidden = set(skip)
    out = []
    for e in err.errors():
        loc = _file_loc(root, tuple(p for p in e["loc"] if isinstance(p, int | str)), hidden)
        key = ".".join(str(p) for p in loc) or "(top)"
        out.append(f"{source}:{line_of(root, loc)}: {key}: {e['msg']}")
    return out


def _file_loc(root: yaml.Node | None, loc: Loc, hidden: set[str]) -> Loc:
    """Drop the parts of a model location that are not keys of the file (union tags)."""
    node, out = root, []
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(key)), None)
            if child is None and key in hidden:
                continue
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        out.append(key)
    return tuple(out)
