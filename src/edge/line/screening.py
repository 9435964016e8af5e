"""The edge's use of the X-ray pre-screen: one image in, the item's X-ray state out.

Each X-ray machine is read through its own calibration (``xray.calibration`` in the edge's
device config, written by ``clearline xray calibrate``). A machine without a calibration,
or with a calibration file that cannot be read, is never guessed at: every image of it is
PENDING and the parcel waits for an inspector (reason XRAY_PENDING).

An image is auto-cleared only when two independent screens both clear it: the calibrated
material screen (``inspection.xray.screen``) and the region pre-screen
(``inspection.xray.prescreen``). Either one's alarm makes the image SUSPECT (or PENDING), so
a threat passes only if both miss it; the price is fewer clean parcels cleared automatically.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from contracts.statuses import XrayState
from devices.events import ImageCaptured
from edge.config import XrayDevice
from edge.line.engine import XrayScreened
from inspection.model import Declaration
from inspection.xray.calibration import Calibration
from inspection.xray.image import ImageConfig, XrayImageError
from inspection.xray.prescreen import PrescreenConfig, prescreen, xray_state
from inspection.xray.screen import ScreenConfig, at_pitch, screen

log = logging.getLogger(__name__)

Screen = Callable[[ImageCaptured, Declaration | None], XrayScreened]

#: Flag of an image read on a machine without a usable calibration.
UNCALIBRATED = "UNCALIBRATED"
#: Flag of an image too coarse to clear: its pixel is larger than ``MAX_CLEAR_PIXEL_MM``.
COARSE = "COARSE_IMAGE"
#: Flag of an image the pre-screen could not read.
UNREADABLE = "UNREADABLE"
#: Flag of an image that would have cleared but holds matter that reads as lead does where
#: the machine reads lead like organic matter (``findings.lead_blind``): lead cannot be ruled
#: out by the two energies there.
LEAD_BLIND = "LEAD_BLIND"
#: The coarsest pixel at the belt (mm) an image may be auto-cleared at: the 0.6 mm the rules
#: were set at (all machine profiles), give or take rounding. Narrow knives (60-90 mm, 8-14 mm
#: wide) by declared pliers, measured at each machine's own pitch: 0 of 18 cleared at 0.6 mm,
#: 1 at 0.75, 2 at 0.9 and 5 at 1.2 (docs/xray-calibration.md); a line run at 4.8 mm had
#: blades cleared. Coarser images always wait for an inspector.
MAX_CLEAR_PIXEL_MM = 0.61


def load_calibration(path: Path | None, device_id: str = "xray") -> Calibration | None:
    """Read a machine's calibration; None (and a logged error) when absent or unreadable."""
    if path is None:
        log.warning(
            "x-ray %s: no calibration configured; every image waits for an inspector", device_id
        )
        return None
    try:
        return Calibration.load(path)
    except (OSError, ValueError, ValidationError) as err:
        log.error(
            "x-ray %s: calibration %s not usable (%s); every image waits for an inspector",
            device_id,
            path,
            err,
        )
        return None


def screen_image(
    image: ImageCaptured,
    declaration: Declaration | None = None,
    calibration: Calibration | None = None,
    config: ScreenConfig | None = None,
    second: PrescreenConfig | None = None,
) -> XrayScreened:
    """Pre-screen one image; unreadable or uncalibrated images wait for an inspector."""
    if calibration is None:
        return XrayScreened(image.item_id, XrayState.PENDING, (UNCALIBRATED,), 1.0, image.device_id)
    try:
        result = screen(image.png, calibration, declaration, config)
    except XrayImageError as err:
        log.warning("item %s: X-ray image unreadable: %s", image.item_id, err)
        return XrayScreened(image.item_id, XrayState.PENDING, (UNREADABLE,), 1.0, image.device_id)
    threshold = (config or ScreenConfig()).threshold
    flags = tuple(
        sorted(
            {
                f.signature.kind.value
                for f in result.findings
                if not f.explained_by and f.signature.score >= threshold
            }
        )
    )
    if result.lead_blind:
        return XrayScreened(
            image.item_id, XrayState.PENDING, (LEAD_BLIND,), result.top_unexplained, image.device_id
        )
    if result.state is not XrayState.CLEARED:
        return XrayScreened(
            image.item_id, result.state, flags, result.top_unexplained, image.device_id
        )
    return _second_opinion(image, declaration, second, result.top_unexplained)


def _second_opinion(
    image: ImageCaptured,
    declaration: Declaration | None,
    config: PrescreenConfig | None,
    risk: float,
) -> XrayScreened:
    """Clear an image the calibrated screen cleared only if the region pre-screen clears it too."""
    try:
        other = prescreen(image.png, declaration, config)
    except XrayImageError as err:
        log.warning("item %s: X-ray image unreadable: %s", image.item_id, err)
        return XrayScreened(image.item_id, XrayState.PENDING, (UNREADABLE,), 1.0, image.device_id)
    state = xray_state(other)
    flags = tuple(f.kind.value for f in other.alarms)
    return XrayScreened(image.item_id, state, flags, max(risk, other.risk), image.device_id)


def screener(device: XrayDevice, config: ScreenConfig | None = None) -> Screen:
    """Return the pre-screen of one machine, its calibration read once at start.

    The screen measures at the machine's own pixel pitch (``device.pixel_mm``): every rule
    is in mm, and a 1.2 mm machine read at 0.6 mm would see a 90 mm knife as 45 mm long.
    """
    config = at_pitch(config or ScreenConfig(), device.pixel_mm)
    calibration = load_calibration(device.calibration, device.device_id)
    if calibration is not None and calibration.machine != device.device_id:
        log.warning(
            "x-ray %s: calibration %s was made for machine %s",
            device.device_id,
            device.calibration,
            calibration.machine,
        )

    lead_min_z = config.signatures.lead_min_z
    blind = None if calibration is None else calibration.lead_blind(lead_min_z)
    if blind is not None:
        log.warning(
            "x-ray %s reads lead like organic matter (A_high %.2f-%.2f): an image holding "
            "matter that reads so there is not auto-cleared (LEAD_BLIND)",
            device.device_id,
            *blind,
        )
    second = PrescreenConfig(image=ImageConfig(pixel_mm=device.pixel_mm))
    coarse = device.pixel_mm > MAX_CLEAR_PIXEL_MM
    if coarse:
        log.warning(
            "x-ray %s: %.2f mm pixels are coarser than %.1f mm; no image of it is auto-cleared",
            device.device_id,
            device.pixel_mm,
            MAX_CLEAR_PIXEL_MM,
        )

    def run(image: ImageCaptured, declaration: Declaration | None) -> XrayScreened:
        got = screen_image(image, declaration, calibration, config, second)
        if coarse and got.state is not XrayState.SUSPECT:  # whatever else made it wait stays
            kept = tuple(f for f in got.flags if f != COARSE)
            return XrayScreened(
                got.item_id, XrayState.PENDING, (*kept, COARSE), got.score, got.device_id
            )
        return got

    return run
