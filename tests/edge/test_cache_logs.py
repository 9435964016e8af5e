"""The edge's log lines keep their counts readable through the masking every log line gets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from clearline.logs import MaskingFilter
from edge.cache import DeclarationCache
from edge.snapshot import FIELDS, FORMAT, LINE_FIELDS


def test_a_snapshots_cursor_is_logged_readably_not_masked_as_a_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    header = {"snapshot": FORMAT, "cursor": "1234567", "count": 0, "fields": list(FIELDS),
              "line_fields": list(LINE_FIELDS), "rules": None}  # fmt: skip
    lines = [json.dumps(header).encode(), json.dumps({"end": True, "count": 0}).encode()]
    cache = DeclarationCache(tmp_path / "cache.db")
    masking = MaskingFilter()
    caplog.handler.addFilter(masking)
    try:
        with caplog.at_level(logging.INFO, logger="edge.cache"):
            cache.load_snapshot(iter(lines))
    finally:
        caplog.handler.removeFilter(masking)
        cache.close()
    said = [r.getMessage() for r in caplog.records if "snapshot of" in r.getMessage()]
    assert said and "at cursor 1,234,567" in said[0], said
