"""Every seam of Clearline stated once: topics, payloads, registers, reasons, statuses, clock."""
