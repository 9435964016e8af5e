"""X-ray image bytes in the hub database (``xray_blob``), and purging old images by age."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.db.engine import StoreError, db_reason
from hub.db.xray_models import XRAY_BLOB, XRAY_IMAGE

logger = logging.getLogger(__name__)


def write_blob(engine: Engine, rel: str, site: str, at: datetime, png: bytes) -> None:
    """Store ``png`` under ``rel``; raise StoreError if the database refuses."""
    try:
        with engine.begin() as conn:
            conn.execute(XRAY_BLOB.insert().values(path=rel, site=site, stored_at=at, png=png))
    except SQLAlchemyError as err:
        raise StoreError(f"cannot write X-ray image {rel}: {db_reason(err)}") from err


def read_blob(engine: Engine, rel: str) -> bytes:
    """Return the PNG stored under ``rel``; raise StoreError when it is gone."""
    try:
        with engine.connect() as conn:
            png = conn.execute(select(XRAY_BLOB.c.png).where(XRAY_BLOB.c.path == rel)).scalar()
    except SQLAlchemyError as err:
        raise StoreError(f"cannot read X-ray image {rel}: {db_reason(err)}") from err
    if png is None:
        raise StoreError(f"X-ray image {rel} is not in the database (purged?)")
    return bytes(png)


def purge_before(engine: Engine, root: Path, before: datetime, *, in_database: bool) -> int:
    """Delete the bytes of every image received before ``before``; return how many went.

    The ``xray_image`` rows stay (with their reviews, the record of what was decided); their
    views are no longer served. Files are removed from ``root``, or rows from ``xray_blob``.
    """
    with engine.connect() as conn:
        paths = list(
            conn.execute(select(XRAY_IMAGE.c.path).where(XRAY_IMAGE.c.received_at < before))
            .scalars()
            .all()
        )
    if in_database:
        with engine.begin() as conn:
            gone = conn.execute(delete(XRAY_BLOB).where(XRAY_BLOB.c.stored_at < before))
        count = int(gone.rowcount or 0)
    else:
        count = 0
        for rel in paths:
            try:
                os.remove(root / rel)
                count += 1
            except FileNotFoundError:
                continue
            except OSError as err:
                logger.warning("cannot remove X-ray image %s: %s", rel, err.strerror)
    logger.info("%s X-ray images received before %s purged", count, before.isoformat())
    return count
