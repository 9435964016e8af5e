"""X-ray synthesis and the X-ray machine simulator."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from contracts.topics import parse_xray_image_topic, xray_image_filter
from devices.mqtt_link import LinkSettings, Message, MqttLink
from devices.xray_image import decode_png
from simulators.broker import EmbeddedBroker
from simulators.cli import sim_app
from simulators.faults import FaultProfile
from simulators.xray import ContentItem, GeneratorConfig, ItemKind, ParcelContents, XrayGenerator
from simulators.xray.materials import MATERIALS, MaterialClass
from simulators.xray.sim import XraySimSpec, XraySimulator

WAIT_S = 10.0
SMALL = GeneratorConfig(width_px=256, height_px=192, pixel_mm=2.4, variants=2)


@pytest.fixture(scope="module")
def gen() -> XrayGenerator:
    return XrayGenerator(SMALL)


def one(kind: ItemKind, cells: int | None = None) -> ParcelContents:
    return ParcelContents(items=(ContentItem(kind=kind, cells=cells),), carton_mm=(400, 500))


def log_att(counts: np.ndarray, air: float) -> np.ndarray:
    return np.log(air / np.maximum(counts.astype(np.float64), 1.0))


def test_same_seed_same_scan_and_other_seed_differs(gen: XrayGenerator) -> None:
    a, b, c = gen.random_scan(5), gen.random_scan(5), gen.random_scan(6)
    assert np.array_equal(a.image.low, b.image.low)
    assert np.array_equal(a.image.high, b.image.high)
    assert a.truth_json() == b.truth_json()
    assert not np.array_equal(a.image.low, c.image.low)
    # and a fresh generator with the same config renders the same
    d = XrayGenerator(SMALL).random_scan(5)
    assert np.array_equal(a.image.high, d.image.high)


def test_output_is_16_bit_with_the_configured_width() -> None:
    config = GeneratorConfig(width_px=320, height_px=400, pixel_mm=2.0, variants=1)
    scan = XrayGenerator(config).render(one(ItemKind.PAPER), seed=1)
    assert scan.image.low.dtype == np.uint16
    assert scan.image.low.shape == (400, 320)
    assert scan.image.high.shape == (400, 320)
    # the bare belt passes about 93 % of I0 (60000 counts), with noise on it
    bare = scan.image.high[scan.image.high > 50000].astype(np.float64)
    assert bare.size > 100
    assert 54000 < bare.mean() < 58000
    assert bare.std() > 50


@pytest.mark.parametrize("kind", list(ItemKind))
def test_ground_truth_box_really_attenuates(gen: XrayGenerator, kind: ItemKind) -> None:
    scan = gen.render(one(kind), seed=3)
    (obj,) = scan.objects
    assert obj.cls == kind.value
    x0, y0, x1, y1 = obj.bbox
    cx0, cy0, cx1, cy1 = scan.carton_bbox
    assert 0 <= x0 < x1 <= SMALL.width_px
    assert 0 <= y0 < y1 <= SMALL.height_px
    att = log_att(scan.image.high, SMALL.air_counts)
    inside = att[y0:y1, x0:x1]
    # the carton floor beside the object: the carton interior outside the box
    floor = att[cy0 + 3 : cy1 - 3, cx0 + 3 : cx1 - 3].copy()
    floor[y0 - cy0 - 3 : y1 - cy0 - 3, x0 - cx0 - 3 : x1 - cx0 - 3] = np.nan
    assert np.percentile(inside, 95) > np.nanmedian(floor) + 0.1
    assert obj.is_threat == (kind in {ItemKind.BLADE, ItemKind.GUN, ItemKind.DENSE_BLOCK})


def test_dense_block_is_impenetrable(gen: XrayGenerator) -> None:
    scan = gen.render(one(ItemKind.DENSE_BLOCK), seed=4)
    x0, y0, x1, y1 = scan.objects[0].bbox
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    core = scan.image.high[cy - 2 : cy + 3, cx - 2 : cx + 3]
    assert core.max() < 200  # black at both energies
    assert scan.image.low[cy - 2 : cy + 3, cx - 2 : cx + 3].max() < 200


def _ratio_in_box(gen: XrayGenerator, kind: ItemKind, seed: int) -> float:
    scan = gen.render(one(kind), seed=seed)
    x0, y0, x1, y1 = scan.objects[0].bbox
    lo = log_att(scan.image.low[y0:y1, x0:x1], SMALL.air_counts)
    hi = log_att(scan.image.high[y0:y1, x0:x1], SMALL.air_counts)
    belt = log_att(scan.image.high[:3, :3], SMALL.air_counts).mean() + 0.05
    strong = (hi > belt + 0.15) & (lo < 9.0)  # on the object, not saturated
    return float(np.median(lo[strong] / hi[strong]))


def test_low_high_ratio_separates_metal_from_organic(gen: XrayGenerator) -> None:
    organic = [
        _ratio_in_box(gen, k, s) for k in (ItemKind.TEXTILES, ItemKind.LIQUID) for s in (1, 2)
    ]
    metal = [
        _ratio_in_box(gen, k, s) for k in (ItemKind.BLADE, ItemKind.METAL_TOOL) for s in (1, 2)
    ]
    assert max(organic) < 1.35
    assert min(metal) > 2.0


def test_material_table_orders_ratio_by_class() -> None:
    by_class: dict[MaterialClass, list[float]] = {}
    for m in MATERIALS.values():
        by_class.setdefault(m.klass, []).append(m.ratio)
    assert max(by_class[MaterialClass.ORGANIC]) < min(by_class[MaterialClass.MIXED])
    assert max(by_class[MaterialClass.MIXED]) < min(by_class[MaterialClass.METAL])


def test_electronics_cells_decide_threat(gen: XrayGenerator) -> None:
    few = gen.render(one(ItemKind.ELECTRONICS, cells=2), seed=1).objects[0]
    many = gen.render(one(ItemKind.ELECTRONICS, cells=6), seed=1).objects[0]
    assert (few.cells, few.is_threat) == (2, False)
    assert (many.cells, many.is_threat) == (6, True)


def test_contents_model_validates() -> None:
    with pytest.raises(ValidationError, match="cells"):
        ContentItem(kind=ItemKind.PAPER, cells=2)
    with pytest.raises(ValidationError, match="extra"):
        ParcelContents.model_validate({"items": [], "colour": "red"})
    with pytest.raises(ValidationError):
        ParcelContents.model_validate({"items": [{"kind": "bazooka"}]})
    parsed = ParcelContents.model_validate_json(
        '{"version": 1, "items": [{"kind": "textiles", "count": 3}, {"kind": "blade"}]}'
    )
    assert parsed.has_threat
    assert sum(i.count for i in parsed.items) == 4


def test_count_places_that_many_objects(gen: XrayGenerator) -> None:
    contents = ParcelContents(items=(ContentItem(kind=ItemKind.PAPER, count=3),))
    assert [o.cls for o in gen.render(contents, seed=2).objects] == ["paper"] * 3


class _Sink:
    def __init__(self, url: str, site: str) -> None:
        self.got: queue.Queue[Message] = queue.Queue()
        self.link = MqttLink(LinkSettings(url=url, site=site, kind="edge", device_id="e"))
        self.link.subscribe(xray_image_filter(site), self.got.put)
        self.link.start().wait_connected(WAIT_S)


def test_simulator_publishes_stacked_png_and_applies_faults(tmp_path: Path) -> None:
    site = f"s{uuid.uuid4().hex[:8]}"
    sleeps: list[float] = []
    fault = FaultProfile(drop_rate=0.3, delay_ms=25)
    with EmbeddedBroker() as broker:
        sink = _Sink(broker.url, site)
        link = MqttLink(LinkSettings(url=broker.url, site=site, kind="xray", device_id="xr1"))
        try:
            link.start().wait_connected(WAIT_S)
            spec = XraySimSpec(site=site, device_id="xr1", seed=9)
            sim = XraySimulator(
                spec,
                link,
                generator=XrayGenerator(SMALL),
                fault=fault,
                out_dir=tmp_path,
                sleep=sleeps.append,
            )
            caps = [sim.capture(item_id) for item_id in range(1, 11)]
            published = [c for c in caps if c.published]
            assert 0 < len(published) < 10
            assert sleeps == [0.025] * len(published)
            for cap in published:
                msg = sink.got.get(timeout=WAIT_S)
                assert parse_xray_image_topic(msg.topic).item_id == cap.item_id
                image = decode_png(msg.payload)
                assert image.low.shape == (SMALL.height_px, SMALL.width_px)
                assert np.array_equal(image.low, cap.scan.image.low)
                assert np.array_equal(image.high, cap.scan.image.high)
            assert sink.got.empty()
            # the same item always gets the same image, dropped or not
            again = sim.scan_for(caps[0].item_id)
            assert np.array_equal(again.image.low, caps[0].scan.image.low)
            truth = json.loads((tmp_path / "1.json").read_text("utf-8"))
            assert truth["item_id"] == 1
            assert truth["width"] == SMALL.width_px
            assert (tmp_path / "10.png").read_bytes() == caps[9].png
        finally:
            link.stop()
            sink.link.stop()


def test_simulator_disconnect_fault_triggers_the_last_will() -> None:
    site = f"s{uuid.uuid4().hex[:8]}"
    with EmbeddedBroker() as broker:
        avail: queue.Queue[Message] = queue.Queue()
        watcher = MqttLink(LinkSettings(url=broker.url, site=site, kind="edge", device_id="w"))
        watcher.subscribe(f"clearline/{site}/xray/xr1/availability", avail.put)
        link = MqttLink(LinkSettings(url=broker.url, site=site, kind="xray", device_id="xr1"))
        try:
            watcher.start().wait_connected(WAIT_S)
            link.start().wait_connected(WAIT_S)
            assert avail.get(timeout=WAIT_S).payload == b"online"
            spec = XraySimSpec(site=site, device_id="xr1")
            sim = XraySimulator(
                spec,
                link,
                generator=XrayGenerator(SMALL),
                fault=FaultProfile(disconnect_after=2),
            )
            sim.capture(1)
            sim.capture(2)  # the second image cuts the connection
            assert avail.get(timeout=WAIT_S).payload == b"offline"
            assert avail.get(timeout=WAIT_S).payload == b"online"
        finally:
            link.stop()
            watcher.stop()


def test_run_paces_items_and_stops() -> None:
    site = f"s{uuid.uuid4().hex[:8]}"
    with EmbeddedBroker() as broker:
        sink = _Sink(broker.url, site)
        link = MqttLink(LinkSettings(url=broker.url, site=site, kind="xray", device_id="xr1"))
        try:
            link.start().wait_connected(WAIT_S)
            sim = XraySimulator(XraySimSpec(site=site), link, generator=XrayGenerator(SMALL))
            done = sim.run(200.0, threading.Event(), count=3, first_item_id=70)
            assert done == 3
            ids = sorted(
                parse_xray_image_topic(sink.got.get(timeout=WAIT_S).topic).item_id for _ in range(3)
            )
            assert ids == [70, 71, 72]
            with pytest.raises(ValueError, match="rate"):
                sim.run(0, threading.Event())
        finally:
            link.stop()
            sink.link.stop()


def test_cli_help_and_a_short_run(tmp_path: Path) -> None:
    runner = CliRunner()
    for cmd in ("xray", "broker"):
        result = runner.invoke(sim_app, [cmd, "--help"])
        assert result.exit_code == 0
    assert "--mqtt-url" in runner.invoke(sim_app, ["xray", "--help"]).output
    with EmbeddedBroker() as broker:
        result = runner.invoke(
            sim_app,
            [
                "xray",
                "--mqtt-url",
                broker.url,
                "--site",
                "clitest",
                "--count",
                "2",
                "--rate",
                "50",
                "--width",
                "128",
                "--height",
                "96",
                "--out",
                str(tmp_path),
            ],
        )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.json", "1.png", "2.json", "2.png"]
    bad = runner.invoke(sim_app, ["xray", "--fault", "nonsense", "--count", "1"])
    assert bad.exit_code != 0
    assert "unknown fault profile" in bad.output
