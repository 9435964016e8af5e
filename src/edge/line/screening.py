"""The edge's use of the X-ray pre-screen: one image in, the item's X-ray state out."""

from __future__ import annotations

import logging
from collections.abc import Callable

from contracts.statuses import XrayState
from devices.events import ImageCaptured
from edge.line.engine import XrayScreened
from inspection.model import Declaration
from inspection.xray.image import ImageConfig, XrayImageError
from inspection.xray.prescreen import PrescreenConfig, prescreen, xray_state

log = logging.getLogger(__name__)


def screen_image(
    image: ImageCaptured,
    declaration: Declaration | None = None,
    config: PrescreenConfig | None = None,
) -> XrayScreened:
    """Pre-screen one image; an unreadable image waits for an inspector (never cleared)."""
    try:
        result = prescreen(image.png, declaration, config)
    except XrayImageError as err:
        log.warning("item %s: X-ray image unreadable: %s", image.item_id, err)
        return XrayScreened(image.item_id, XrayState.PENDING, ("UNREADABLE",), 1.0, image.device_id)
    flags = tuple(f.kind.value for f in result.alarms)
    return XrayScreened(image.item_id, xray_state(result), flags, result.risk, image.device_id)


def screener(pixel_mm: float) -> Callable[[ImageCaptured, Declaration | None], XrayScreened]:
    """Return the pre-screen for a machine whose pixels measure ``pixel_mm`` at the belt."""
    config = PrescreenConfig(image=ImageConfig(pixel_mm=pixel_mm))

    def screen(image: ImageCaptured, declaration: Declaration | None) -> XrayScreened:
        return screen_image(image, declaration, config)

    return screen
