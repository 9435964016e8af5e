"""X-ray images at the hub: a file store, the pre-screen run on arrival, rendered views.

Each image arrives on ``clearline/{site}/xray/{device_id}/image/{item_id}`` (the stacked 16-bit
PNG of DESIGN §6). The hub writes it under ``{data_dir}/xray/{site}/{YYYY-MM-DD}/``, runs the
pre-screen on it (the edge runs it too; the hub keeps the flags and regions to show them), and
records it in the ``xray_image`` table with the parcel code once the item's events name it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hub.db.engine import StoreError, db_reason
from hub.db.event_models import PARCEL
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.xray_blobs import read_blob, write_blob
from inspection.identity import normalise
from inspection.xray import colour
from inspection.xray.image import XrayImageError, decode_attenuation
from inspection.xray.prescreen import PrescreenConfig, prescreen

logger = logging.getLogger(__name__)

#: Review-station view names (API ``view=``) and the display transform each one uses.
VIEW_NAMES: dict[str, str] = {
    "colour": "standard",
    "grey": "grey",
    "organic": "organic_only",
    "inorganic": "inorganic_only",
    "density": "high_density",
    "contrast": "contrast_stretch",
    "invert": "invert",
    "low": "low",
    "high": "high",
    "edges": "edges",
}
#: A parcel pass joins an image when it was first seen at most this long before it, s.
PASS_WINDOW_S = 300.0
#: Rendered views kept in memory, per store.
RENDER_CACHE = 32


class XrayStoreError(StoreError):
    """An X-ray image could not be read, pre-screened, written or found."""


class XrayImageUnreadableError(XrayStoreError):
    """The image itself cannot be read: storing it again will never succeed."""


class ReviewSettings(BaseSettings):
    """Settings of the image store and the review queue, from ``CLEARLINE_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="CLEARLINE_", extra="ignore")

    data_dir: Path = Field(
        Path("var"),
        title="Hub data directory",
        description="X-ray images are kept under DATA_DIR/xray/.",
    )
    review_budget_s: float = Field(
        20.0,
        gt=0,
        le=86_400,
        title="Review budget",
        description="Seconds an inspector has for an image whose parcel has no decision "
        "deadline yet (counted from the image's arrival at the hub).",
    )
    review_window_h: float = Field(
        24.0,
        gt=0,
        le=24 * 31,
        title="Queue window",
        description="Unreviewed images older than this many hours leave the review queue.",
    )
    xray_palette: str = Field(
        "standard",
        title="Material palette",
        description="Vendor palette of the colour views: " + ", ".join(colour.PALETTES),
    )
    xray_store: Literal["files", "database"] = Field(
        "files",
        title="Image store",
        description="files: PNGs under DATA_DIR/xray/ (one hub process, or a shared folder); "
        "database: PNG bytes in the hub database, reached by every hub process.",
    )
    xray_retention_days: float = Field(
        0.0,
        ge=0,
        title="Image retention",
        description="Days an image is kept before `clearline hub xray-purge` removes it; "
        "0 keeps images until purged with --days.",
    )
    xray_pixel_mm: float = Field(
        0.6,
        gt=0.01,
        le=10,
        title="X-ray pixel pitch",
        description="Pixel size of the site's X-ray images at the belt, mm (for the pre-screen).",
    )
    tip_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        title="Threat image projection rate",
        description="Share of the images an inspector opens into which a fictional threat is "
        "projected first (0 = off; consoles commonly use a few per cent).",
    )
    tip_library: Path | None = Field(
        None,
        title="Threat image library",
        description="Folder of the threat image projection library (clearline xray "
        "tip-library); without one no threat is projected.",
    )


@dataclass(frozen=True, slots=True)
class StoredImage:
    """What storing one image did: its row id, pre-screen state, and whether it was known."""

    image_id: uuid.UUID
    state: str
    duplicate: bool
    parcel_code: str | None


class XrayStore:
    """The image files under ``{data_dir}/xray`` and the rendered views of them."""

    def __init__(
        self, settings: ReviewSettings | None = None, engine: Engine | None = None
    ) -> None:
        """Use ``settings`` (from the environment when not given); nothing is created yet.

        With ``xray_store = database`` the PNGs live in ``engine``'s ``xray_blob`` table.
        """
        self.settings = settings or ReviewSettings()
        self.engine = engine if self.settings.xray_store == "database" else None
        if self.settings.xray_store == "database" and engine is None:
            raise XrayStoreError("the database image store needs the hub database")
        self.root = Path(self.settings.data_dir) / "xray"
        self.palette = colour.palette_named(self.settings.xray_palette)
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def write(self, site: str, image_id: uuid.UUID, at: datetime, png: bytes) -> str:
        """Write ``png`` atomically; return its path relative to the store root."""
        rel = f"{site}/{at:%Y-%m-%d}/{image_id}.png"
        if self.engine is not None:
            try:
                write_blob(self.engine, rel, site, at, png)
            except StoreError as err:
                raise XrayStoreError(str(err)) from err
            return rel
        full = self.root / rel
        try:
            full.parent.mkdir(parents=True, exist_ok=True)
            tmp = full.with_suffix(".part")
            tmp.write_bytes(png)
            os.replace(tmp, full)
        except OSError as err:
            raise XrayStoreError(f"cannot write X-ray image {rel}: {err.strerror}") from err
        return rel

    def read(self, rel: str) -> bytes:
        """Return the PNG stored at ``rel``; raise XrayStoreError when it is gone."""
        if self.engine is not None:
            try:
                return read_blob(self.engine, rel)
            except StoreError as err:
                raise XrayStoreError(str(err)) from err
        full = (self.root / rel).resolve()
        if self.root.resolve() not in full.parents:
            raise XrayStoreError(f"image path {rel!r} is outside the image store")
        try:
            return full.read_bytes()
        except OSError as err:
            raise XrayStoreError(f"cannot read X-ray image {rel}: {err.strerror}") from err

    def render(self, rel: str, view: str) -> bytes:
        """Return one review view of the stored image as an 8-bit RGB PNG."""
        if view not in VIEW_NAMES:
            raise XrayStoreError(f"unknown view {view!r}; known: {', '.join(VIEW_NAMES)}")
        key = (rel, view)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        try:
            low, high = decode_attenuation(self.read(rel))
        except XrayImageError as err:
            raise XrayStoreError(f"stored image {rel} cannot be decoded: {err}") from err
        rgb = self._transform(view, low, high)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise XrayStoreError(f"cannot encode the {view} view of {rel}")
        out = bytes(buf)
        with self._lock:
            self._cache[key] = out
            while len(self._cache) > RENDER_CACHE:
                self._cache.popitem(last=False)
        return out

    def _transform(self, view: str, low: Any, high: Any) -> Any:
        """Apply the display transform of ``view`` with this store's palette."""
        pal = self.palette
        if view == "colour":
            return colour.pseudo_colour(low, high, pal)
        if view == "organic":
            return colour.organic_only(low, high, pal)
        if view == "inorganic":
            return colour.inorganic_only(low, high, pal)
        if view == "invert":
            return colour.invert(colour.pseudo_colour(low, high, pal))
        if view == "grey":
            return readable_grey(high)
        if view == "low":
            return readable_grey(low)
        if view == "high":
            return readable_grey(high)
        if view == "edges":
            return edge_enhanced(high)
        if view == "density":
            out = readable_grey(high)
            out[high >= np.float32(DENSE_HIGH)] = np.array((255, 0, 255), np.uint8)
            return out
        return colour.VIEWS[VIEW_NAMES[view]](low, high)


#: High-energy attenuation from which the density view marks a pixel (magenta).
DENSE_HIGH = 2.0
#: Grey views: the darkest grey is reached at this percentile of the parcel's own attenuation,
#: never below GREY_TOP_MIN nor above GREY_TOP_MAX; GREY_GAMMA < 1 spreads thin (organic) matter.
GREY_TOP_PCT, GREY_TOP_MIN, GREY_TOP_MAX, GREY_GAMMA = 99.5, 0.8, 6.0, 0.6


def edge_enhanced(high: Any) -> Any:
    """The grey view with its edges sharpened: a strong unsharp mask plus the gradient."""
    grey = readable_grey(high)[:, :, 0].astype(np.float32)
    blur = cv2.GaussianBlur(grey, (0, 0), 2.0)
    sharp = grey + 1.5 * (grey - blur)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    edges = np.sqrt(gx * gx + gy * gy)
    out = np.clip(sharp - 0.35 * edges, 0, 255).astype(np.uint8)
    return np.repeat(out[:, :, None], 3, axis=2)


def readable_grey(high: Any) -> Any:
    """Grey view scaled to this parcel: thin organic matter reads as mid-grey, not near-white.

    White is no attenuation; black is the parcel's own densest matter (the GREY_TOP_PCT
    percentile of its high-energy attenuation, within GREY_TOP_MIN..GREY_TOP_MAX), with a
    gamma that spreads the low attenuations where organic goods lie.
    """
    obj = high[high > np.float32(0.05)]
    top = float(np.percentile(obj, GREY_TOP_PCT)) if obj.size else GREY_TOP_MAX
    top = min(max(top, GREY_TOP_MIN), GREY_TOP_MAX)
    level = np.clip(high / np.float32(top), 0.0, 1.0) ** np.float32(GREY_GAMMA)
    grey = np.rint(255.0 * (1.0 - level)).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def find_pass(conn: Connection, site: str, item_id: int, at: datetime) -> RowMapping | None:
    """The parcel pass of ``item_id`` on ``site`` that an image taken at ``at`` belongs to.

    That is the latest pass first seen at most PASS_WINDOW_S seconds before ``at`` (or a few
    seconds after, for clocks slightly apart); None when no such pass is known yet.
    """
    lo = at - timedelta(seconds=PASS_WINDOW_S)
    hi = at + timedelta(seconds=30)
    row: RowMapping | None = (
        conn.execute(
            select(PARCEL)
            .where(
                PARCEL.c.site == site,
                PARCEL.c.item_id == item_id,
                PARCEL.c.first_seen >= lo,
                PARCEL.c.first_seen <= hi,
            )
            .order_by(PARCEL.c.first_seen.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return row


def pass_code(parcel: RowMapping | None) -> str | None:
    """The normalised parcel code of a pass (AIM prefix off, upper case), if it has one."""
    if parcel is None or not parcel["parcel_code"]:
        return None
    return normalise(str(parcel["parcel_code"]))[:64] or None


def store_image(
    engine: Engine,
    store: XrayStore,
    *,
    site: str,
    device_id: str,
    item_id: int,
    png: bytes,
    received_at: datetime,
    config: PrescreenConfig | None = None,
) -> StoredImage:
    """Pre-screen, write and record one image; a second copy of the same PNG is a duplicate.

    Raises XrayStoreError for an image the pre-screen cannot read or a store that cannot be
    written; nothing is recorded then.
    """
    digest = hashlib.sha256(png).hexdigest()
    known = _known(engine, site, device_id, item_id, digest)
    if known is not None:
        return known
    try:
        result = prescreen(png, None, config)
    except XrayImageError as err:
        raise XrayImageUnreadableError(f"image of item {item_id} from {device_id}: {err}") from err
    found = result.as_dict()
    image_id = uuid.uuid4()
    rel = store.write(site, image_id, received_at, png)
    try:
        with engine.begin() as conn:
            parcel = find_pass(conn, site, item_id, received_at)
            code = pass_code(parcel)
            conn.execute(
                XRAY_IMAGE.insert().values(
                    image_id=image_id,
                    site=site,
                    device_id=device_id,
                    item_id=item_id,
                    parcel_code=code,
                    received_at=received_at,
                    path=rel,
                    sha256=digest,
                    size_bytes=len(png),
                    width=result.width,
                    height=result.height,
                    state=str(found["state"]),
                    risk=result.risk,
                    prescreen=found,
                    category="",
                )
            )
    except IntegrityError:
        again = _known(engine, site, device_id, item_id, digest)
        if again is not None:
            return again
        raise XrayStoreError(f"image of item {item_id} could not be recorded") from None
    except SQLAlchemyError as err:
        raise XrayStoreError(f"cannot record image of item {item_id}: {db_reason(err)}") from err
    logger.info(
        "x-ray image item_id=%s device_id=%s stored: %s, risk %.2f",
        item_id,
        device_id,
        found["state"],
        result.risk,
    )
    return StoredImage(image_id, str(found["state"]), False, code)


def _known(
    engine: Engine, site: str, device_id: str, item_id: int, digest: str
) -> StoredImage | None:
    """The stored copy of an image, if this exact PNG was stored already."""
    with engine.connect() as conn:
        row = conn.execute(
            select(XRAY_IMAGE.c.image_id, XRAY_IMAGE.c.state, XRAY_IMAGE.c.parcel_code).where(
                XRAY_IMAGE.c.site == site,
                XRAY_IMAGE.c.device_id == device_id,
                XRAY_IMAGE.c.item_id == item_id,
                XRAY_IMAGE.c.sha256 == digest,
            )
        ).first()
    if row is None:
        return None
    return StoredImage(row.image_id, row.state, True, row.parcel_code)


def attach_parcel_code(conn: Connection, image_id: uuid.UUID, code: str) -> None:
    """Record the parcel code of an image once the item's events have named it."""
    conn.execute(
        update(XRAY_IMAGE)
        .where(XRAY_IMAGE.c.image_id == image_id, XRAY_IMAGE.c.parcel_code.is_(None))
        .values(parcel_code=code[:64])
    )
