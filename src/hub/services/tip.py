"""Threat image projection (TIP) at the review station.

When an inspector opens an image that still waits for a verdict, the hub may first show it
with a fictional threat projected into it (at the supervisor's rate ``CLEARLINE_TIP_RATE``,
from the library ``CLEARLINE_TIP_LIBRARY`` that ``clearline xray tip-library`` builds). The
threat's stored transmissions multiply the parcel's detector counts at a random place over
the parcel: things behind one another multiply their transmissions (Beer–Lambert), so the
threat looks as if it were packed inside. The inspector's verdict on that image is scored
(suspect or hold: a hit; clear: a miss) and never sent anywhere; the inspector is then told
it was a test image and the real image comes back for its own verdict, as real consoles do.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field
from sqlalchemy import Connection, RowMapping, select, update
from sqlmodel import Session

from contracts.clock import Clock
from hub.db.tip_models import TIP_PROJECTION
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.xray_store import XrayStore, XrayStoreError
from hub.services.auth import Principal

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
#: Full scale of a stored transmission in the library's PNGs.
FULL = 65535.0
#: Verdicts that find a projected threat.
FINDS = frozenset({"suspect", "hold"})
#: Store "site" folder of projected images.
TIP_FOLDER = "_tip"


@dataclass(frozen=True, slots=True, eq=False)
class Threat:
    """One library entry at the site's pixel pitch: transmission of each channel, 0..1."""

    file: str
    threat: str
    low: F32
    high: F32


class TipAnswer(BaseModel):
    """The score of a verdict given on a projected image (nothing was sent to the line)."""

    tip: bool = Field(True, description="Always true: the image held a projected threat.")
    image_id: uuid.UUID
    threat: str = Field(description="Threat class of the projected image.")
    hit: bool = Field(description="True when the inspector marked it suspect or held it.")
    box: tuple[int, int, int, int] = Field(description="Where the threat was (x, y, w, h), px.")


def _planes(png: bytes) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
    """The two stacked 16-bit planes of a PNG."""
    arr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 2 or arr.shape[0] % 2:
        raise XrayStoreError("not a stacked 16-bit X-ray PNG")
    half = arr.shape[0] // 2
    pixels = np.asarray(arr, np.uint16)
    return pixels[:half], pixels[half:]


@functools.lru_cache(maxsize=4)
def load_library(folder: str, site_pixel_mm: float) -> tuple[Threat, ...]:
    """Read a TIP library and scale its images to the site's pixel pitch; () when unusable."""
    root = Path(folder)
    try:
        index = json.loads((root / "library.json").read_text("utf-8"))
        scale = float(index["pixel_mm"]) / site_pixel_mm
        out = []
        for item in index["items"]:
            low, high = _planes((root / str(item["file"])).read_bytes())
            planes: list[F32] = []
            for plane in (low, high):
                t = plane.astype(np.float32) / np.float32(FULL)
                h, w = t.shape
                size = (max(1, round(w * scale)), max(1, round(h * scale)))
                planes.append(
                    np.asarray(cv2.resize(t, size, interpolation=cv2.INTER_AREA), np.float32)
                )
            out.append(Threat(str(item["file"]), str(item["threat"]), planes[0], planes[1]))
    except (OSError, ValueError, KeyError, TypeError, XrayStoreError) as err:
        log.error("TIP library %s not usable: %s; no threat is projected", folder, err)
        return ()
    return tuple(out)


def _place(high: npt.NDArray[np.uint16], th: int, tw: int, rng: random.Random) -> tuple[int, int]:
    """Top-left of a (th, tw) threat over the parcel: centred on a pixel the parcel darkens."""
    h, w = high.shape
    air = float(np.percentile(high, 99))
    ys, xs = np.nonzero(high < 0.8 * air)
    if len(ys):
        k = rng.randrange(len(ys))
        cy, cx = int(ys[k]), int(xs[k])
    else:
        cy, cx = h // 2, w // 2
    y = min(max(0, cy - th // 2), max(0, h - th))
    x = min(max(0, cx - tw // 2), max(0, w - tw))
    return y, x


Box = tuple[int, int, int, int]


def _resized(t: F32, size: tuple[int, int]) -> F32:
    """A transmission plane resized to (width, height)."""
    return np.asarray(
        cv2.resize(np.ascontiguousarray(t), size, interpolation=cv2.INTER_AREA), np.float32
    )


def project(png: bytes, threat: Threat, rng: random.Random) -> tuple[bytes, Box]:
    """The parcel image with ``threat`` projected in (counts × transmission), and its box."""
    low, high = _planes(png)
    turns = rng.randrange(4)
    t_low, t_high = np.rot90(threat.low, turns), np.rot90(threat.high, turns)
    h, w = low.shape
    th, tw = t_low.shape
    if th > h or tw > w:
        f = 0.9 * min(h / th, w / tw)
        size = (max(1, int(tw * f)), max(1, int(th * f)))
        t_low = _resized(t_low, size)
        t_high = _resized(t_high, size)
        th, tw = t_low.shape
    y, x = _place(high, th, tw, rng)
    out = []
    for plane, t in ((low, t_low), (high, t_high)):
        p = plane.astype(np.float32)
        p[y : y + th, x : x + tw] *= t
        out.append(np.clip(np.rint(p), 0, 65535).astype(np.uint16))
    ok, buf = cv2.imencode(".png", np.vstack(out), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise XrayStoreError("cannot encode the projected image")
    return bytes(buf), (x, y, tw, th)


def open_projection(conn: Connection, image_id: uuid.UUID, inspector: str) -> RowMapping | None:
    """The projection this inspector has been shown on this image and not answered yet."""
    row: RowMapping | None = (
        conn.execute(
            select(TIP_PROJECTION).where(
                TIP_PROJECTION.c.image_id == image_id,
                TIP_PROJECTION.c.inspector == inspector,
                TIP_PROJECTION.c.answered_at.is_(None),
            )
        )
        .mappings()
        .first()
    )
    return row


def maybe_project(
    session: Session,
    store: XrayStore,
    image_id: uuid.UUID,
    principal: Principal,
    clock: Clock,
    rng: random.Random | None = None,
) -> bool:
    """Draw whether this opening gets a projected threat; store it. True when one is open.

    An inspector sees at most one projection per image, only on images still waiting for a
    verdict, and never when the rate is 0 or the library is missing.
    """
    settings = store.settings
    conn = session.connection()
    if open_projection(conn, image_id, principal.name) is not None:
        return True
    if settings.tip_rate <= 0 or settings.tip_library is None:
        return False
    seen = conn.execute(
        select(TIP_PROJECTION.c.tip_id).where(
            TIP_PROJECTION.c.image_id == image_id, TIP_PROJECTION.c.inspector == principal.name
        )
    ).first()
    image = conn.execute(select(XRAY_IMAGE).where(XRAY_IMAGE.c.image_id == image_id)).mappings()
    row: Any = image.first()
    if seen is not None or row is None or row["verdict"] is not None:
        return False
    draw = rng or random.SystemRandom()
    if draw.random() >= settings.tip_rate:
        return False
    library = load_library(str(settings.tip_library), settings.xray_pixel_mm)
    if not library:
        return False
    threat = library[draw.randrange(len(library))]
    try:
        png, box = project(store.read(row["path"]), threat, draw)
    except XrayStoreError as err:
        log.warning("image %s: no projection: %s", image_id, err)
        return False
    tip_id, now = uuid.uuid4(), clock.now()
    path = store.write(TIP_FOLDER, tip_id, now, png)
    conn.execute(
        TIP_PROJECTION.insert().values(
            tip_id=tip_id, image_id=image_id, inspector=principal.name, threat=threat.threat,
            library_file=threat.file, path=path, box_x=box[0], box_y=box[1], box_w=box[2],
            box_h=box[3], shown_at=now,
        )
    )  # fmt: skip
    session.commit()
    log.info("image %s: threat %s projected for %s", image_id, threat.file, principal.name)
    return True


def answer(session: Session, tip: RowMapping, verdict: str, clock: Clock) -> TipAnswer:
    """Score the verdict given on a projected image; restart the real image's clock."""
    now = clock.now()
    hit = verdict in FINDS
    conn = session.connection()
    conn.execute(
        update(TIP_PROJECTION)
        .where(TIP_PROJECTION.c.tip_id == tip["tip_id"], TIP_PROJECTION.c.answered_at.is_(None))
        .values(answered_at=now, answer=verdict, hit=hit)
    )
    conn.execute(
        update(XRAY_IMAGE)
        .where(
            XRAY_IMAGE.c.image_id == tip["image_id"],
            XRAY_IMAGE.c.opened_by == tip["inspector"],
            XRAY_IMAGE.c.verdict.is_(None),
        )
        .values(opened_at=now)
    )
    session.commit()
    box = (tip["box_x"], tip["box_y"], tip["box_w"], tip["box_h"])
    return TipAnswer(image_id=tip["image_id"], threat=tip["threat"], hit=hit, box=box)
