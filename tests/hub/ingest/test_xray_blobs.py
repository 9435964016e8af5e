"""X-ray images in the database: every store on the database reads them; purge by age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from hub.db.xray_models import XRAY_BLOB, XRAY_IMAGE
from hub.ingest.xray_blobs import purge_before
from hub.ingest.xray_store import ReviewSettings, XrayStore, XrayStoreError, store_image
from tests.hub.helpers_review import sample_png

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def _store(tmp_path: Path, engine: Engine | None, where: str = "database") -> XrayStore:
    settings = ReviewSettings(data_dir=tmp_path / where, xray_store=where)  # type: ignore[arg-type]
    return XrayStore(settings, engine)


def _paths(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(XRAY_IMAGE.c.item_id, XRAY_IMAGE.c.path)).all()
    return {int(r.item_id): str(r.path) for r in rows}


def test_images_in_the_database_are_read_by_every_store(engine: Engine, tmp_path: Path) -> None:
    """One process stores the image; another (its own store, no shared folder) renders it."""
    png = sample_png("blade")
    first, other = _store(tmp_path / "a", engine), _store(tmp_path / "b", engine)
    done = store_image(
        engine, first, site="s1", device_id="xr1", item_id=5, png=png, received_at=NOW
    )
    assert not done.duplicate
    rel = _paths(engine)[5]
    assert other.read(rel) == png
    assert other.render(rel, "grey").startswith(b"\x89PNG")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # no file written
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(XRAY_BLOB)).scalar_one() == 1


def test_database_store_needs_the_database(tmp_path: Path) -> None:
    """Asking for the database store without an engine is refused at once."""
    with pytest.raises(XrayStoreError, match="needs the hub database"):
        _store(tmp_path, None)


@pytest.mark.parametrize("where", ["database", "files"])
def test_purge_removes_old_images_only(engine: Engine, tmp_path: Path, where: str) -> None:
    """Images older than the cut-off go (their rows stay); newer ones are still served."""
    store = _store(tmp_path, engine, where)
    old_at, new_at = NOW - timedelta(days=40), NOW - timedelta(days=1)
    for item, at, kind in ((1, old_at, "blade"), (2, new_at, "battery")):
        store_image(
            engine,
            store,
            site="s1",
            device_id="xr1",
            item_id=item,
            png=sample_png(kind),
            received_at=at,
        )
    paths = _paths(engine)
    purged = purge_before(
        engine, store.root, NOW - timedelta(days=30), in_database=where == "database"
    )
    assert purged == 1
    with pytest.raises(XrayStoreError):
        store.read(paths[1])
    assert store.read(paths[2]) == sample_png("battery")
    assert set(_paths(engine)) == {1, 2}  # the records of what was seen stay
