"""Logging set-up: one handler on stderr, personal numbers masked in every message."""

from __future__ import annotations

import logging

from inspection.masking import scrub


class MaskingFilter(logging.Filter):
    """Mask identity and phone numbers that reach a log message by any path."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message with its masked rendering."""
        msg = record.getMessage()
        masked = scrub(msg)
        if masked != msg:
            record.msg = masked
            record.args = None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once for a command-line process."""
    root = logging.getLogger()
    if any(isinstance(f, MaskingFilter) for h in root.handlers for f in h.filters):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
