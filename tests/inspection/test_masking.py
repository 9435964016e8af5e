"""Identity and phone numbers never appear whole."""

from __future__ import annotations

import logging

import pytest

from clearline.logs import MaskingFilter
from inspection.masking import mask_id, mask_name, mask_phone, scrub


def test_mask_functions() -> None:
    """Ids keep 3+2 characters, phones 3+4, names their first character."""
    assert mask_id("110101199003071234") == "110*************34"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三丰") == "张**"
    assert mask_id("") == "" and mask_phone(None) == ""


def test_scrub_masks_numbers_in_text() -> None:
    """Free text loses every long digit run but keeps the rest."""
    text = "buyer 110101199003071234 phone 13812345678 order ORD00000001"
    out = scrub(text)
    assert "110101199003071234" not in out and "13812345678" not in out
    assert "ORD00000001" in out


def test_log_filter_masks(caplog: pytest.LogCaptureFixture) -> None:
    """A log record carrying an id number is masked by the filter."""
    logger = logging.getLogger("clearline.test.masking")
    handler_filter = MaskingFilter()
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "payer %s", ("110101199003071234",), None
    )
    assert handler_filter.filter(record)
    assert "110101199003071234" not in record.getMessage()
