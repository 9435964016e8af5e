"""Every alarm the edge or the hub can raise has words on the line page, in both languages."""

from __future__ import annotations

import re

from edge import verdict_gate
from hub.services import line_stats
from hub.web import i18n
from hub.web.lines import ALARM_TITLES
from sorting.reconcile import AlarmKind

CJK = re.compile(r"[\u4e00-\u9fff]")
#: Alarms the edge raises outside reconciliation, and those the hub works out itself.
OTHERS = (
    "lost_confirms", "device_offline", "late_reply", "no_read_rate", "contradicting_decisions",
)  # fmt: skip


def _names() -> set[str]:
    gate = {verdict_gate.ALARM, verdict_gate.FLOOD, verdict_gate.LATE}
    return {k.value for k in AlarmKind} | gate | set(OTHERS)


def test_every_alarm_has_words_in_chinese_and_english() -> None:
    """No alarm reaches a Chinese page by its code name."""
    for name in sorted(_names()):
        assert name in ALARM_TITLES, name
        assert name in line_stats.ALARM_TITLES, name
        with i18n.speaking("zh"):
            assert CJK.search(i18n.gettext(ALARM_TITLES[name])), name
        with i18n.speaking("en"):
            assert i18n.gettext(ALARM_TITLES[name]) == line_stats.ALARM_TITLES[name]
