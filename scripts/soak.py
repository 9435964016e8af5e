"""Soak a whole site with the edge SIGKILLed on a schedule; write JSON figures and a memory plot.

    PYTHONPATH=src .venv/bin/python scripts/soak.py --seconds 600 --rate 50 --kill-every 120 \\
        --json var/soak/figures.json --plot docs/images/soak-memory.png

Runs the hub (``clearline hub serve``), the edge under its supervisor with a warm spare
(``clearline edge run --standby``), the line on simulators and Mosquitto (an embedded broker
when Mosquitto does not answer). See ``docs/invariants.md`` ("Soak with a warm standby").
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tests.e2e.soak import SoakOptions, run_soak, write_figures  # noqa: E402

log = logging.getLogger("soak")

#: Line colours (BGR) of each process on the plot.
COLOURS = {
    "hub": (180, 90, 30),
    "edge_active": (40, 40, 200),
    "edge_spare": (60, 160, 240),
    "edge_supervisor": (120, 120, 120),
    "line_simulators": (60, 150, 60),
}


def plot_memory(figures: dict[str, Any], path: Path, size: tuple[int, int] = (960, 540)) -> None:
    """Draw each process's RSS over time (kills as vertical lines) and save a PNG."""
    w, h = size
    left, right, top, bottom = 70, 200, 40, 50
    img = np.full((h, w, 3), 255, np.uint8)
    samples = figures["samples"]
    ts = samples["t_s"]
    series = {k: v for k, v in samples["rss_mb"].items() if any(x is not None for x in v)}
    t_max = max(ts[-1] if ts else 1.0, 1.0)
    y_max = max((x for v in series.values() for x in v if x is not None), default=100.0)
    y_max = float(np.ceil(y_max / 100.0) * 100.0)

    def xy(t: float, mb: float) -> tuple[int, int]:
        x = left + (w - left - right) * t / t_max
        y = h - bottom - (h - top - bottom) * mb / y_max
        return int(x), int(y)

    font, black = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    cv2.rectangle(img, (left, top), (w - right, h - bottom), black, 1)
    for i in range(6):
        mb = y_max * i / 5
        x0, y0 = xy(0, mb)
        cv2.line(img, (x0, y0), (w - right, y0), (225, 225, 225), 1)
        cv2.putText(img, f"{mb:.0f}", (8, y0 + 4), font, 0.45, black, 1, cv2.LINE_AA)
    for i in range(6):
        t = t_max * i / 5
        x0, _ = xy(t, 0)
        cv2.putText(img, f"{t:.0f}", (x0 - 12, h - bottom + 20), font, 0.45, black, 1, cv2.LINE_AA)
    for k in figures["takeovers"]:
        x0, _ = xy(float(k["at_s"]), 0)
        cv2.line(img, (x0, top), (x0, h - bottom), (0, 0, 255), 1)
    for name, values in series.items():
        colour = COLOURS.get(name, black)
        pts = [xy(t, v) for t, v in zip(ts, values, strict=True) if v is not None]
        if len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32)], False, colour, 2, cv2.LINE_AA)
    for i, name in enumerate(series):
        y0 = top + 20 + 22 * i
        cv2.line(img, (w - right + 12, y0 - 4), (w - right + 36, y0 - 4), COLOURS[name], 2)
        cv2.putText(img, name, (w - right + 42, y0), font, 0.45, black, 1, cv2.LINE_AA)
    y0 = top + 20 + 22 * len(series)
    cv2.line(img, (w - right + 12, y0 - 4), (w - right + 36, y0 - 4), (0, 0, 255), 1)
    cv2.putText(img, "edge SIGKILL", (w - right + 42, y0), font, 0.45, black, 1, cv2.LINE_AA)
    opts = figures["options"]
    every = f"SIGKILL every {opts['kill_every_s']:g} s"
    title = f"RSS (MB) over time (s): {opts['rate']:g} parcels/s, {every}"
    cv2.putText(img, title, (left, 25), font, 0.55, black, 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def main() -> int:
    """Parse the options, run the soak, write the figures; 1 if an invariant was broken."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="induction time (default 600)")
    ap.add_argument("--rate", type=float, default=50.0, help="parcels per second (default 50)")
    ap.add_argument("--kill-every", type=float, default=120.0, help="SIGKILL period, s")
    ap.add_argument("--xray-width", type=int, default=512, help="X-ray image width, px")
    ap.add_argument("--sample", type=float, default=5.0, help="memory sample period, s")
    ap.add_argument("--broker", default=None, help="broker URL (default Mosquitto or embedded)")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the run's files here")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    ap.add_argument("--plot", type=Path, default=None, help="write the memory plot (PNG)")
    ap.add_argument(
        "--plc-link", choices=["process", "thread"], default=None, help="the edge's plc_link"
    )
    ap.add_argument(
        "--example-lanes",
        action="store_true",
        help="the example line's lanes (the hold cage holds 30 parcels, emptied at 1,200/h): "
        "once one is full, its parcels go round the loop and the PLC asks again",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="clearline-soak-"))
    opts = SoakOptions(
        workdir=workdir, seconds=args.seconds, rate=args.rate, kill_every_s=args.kill_every,
        xray_width_px=args.xray_width, sample_s=args.sample, broker_url=args.broker,
        plc_link=args.plc_link, roomy_lanes=not args.example_lanes,
    )  # fmt: skip
    figures = run_soak(opts)
    if args.json is not None:
        write_figures(figures, args.json)
    if args.plot is not None:
        plot_memory(figures, args.plot)
    summary = {k: v for k, v in figures.items() if k != "samples"}
    print(json.dumps(summary, indent=2))  # noqa: T201  (the command's output)
    broken = (
        figures["wrong_releases"] or figures["unconfirmed_parcels"] or figures["events"]["lost"]
    )
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
