"""``clearline xray``: machine calibration, replaying the pre-screen, phantoms and step wedges."""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import typer

from devices.xray_image import decode_png, encode_png
from inspection.formats.postal import read_postal_json
from inspection.identity import s10_check_digit
from inspection.model import Declaration
from inspection.xray.calibration import (
    WEDGE_MATERIALS,
    Calibration,
    CalibrationError,
    calibrate,
)
from inspection.xray.image import XrayImageError
from inspection.xray.lines import blur_note
from inspection.xray.screen import ScreenConfig, at_pitch, screen

xray_app = typer.Typer(
    help="X-ray machines: calibrate, replay the pre-screen, make test images.", no_args_is_help=True
)

#: Where calibrations live unless --calibration-dir says otherwise.
DEFAULT_DIR = Path(os.environ.get("CLEARLINE_XRAY_CALIBRATION", "xray-calibration"))


def register(app: typer.Typer) -> None:
    """Attach ``xray`` to the root command."""
    app.add_typer(xray_app, name="xray")


def _fail(message: str) -> None:
    """Print an error and exit 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@xray_app.command("wedge")
def wedge_command(
    machine: str = typer.Option(..., "--machine", help="Simulated machine profile."),
    out: Path = typer.Option(Path("."), "--out", help="Directory for the four wedge PNGs."),
) -> None:
    """Image the standard step wedges on a simulated machine: organic/aluminium/steel/lead.png."""
    from simulators.xray.phantom import render_wedge
    from simulators.xray.physics import load_profiles

    profiles = load_profiles()
    if machine not in profiles:
        _fail(f"unknown machine profile {machine!r}; known: {sorted(profiles)}")
    out.mkdir(parents=True, exist_ok=True)
    for base in WEDGE_MATERIALS:
        (out / f"{base}.png").write_bytes(encode_png(render_wedge(profiles[machine], base), 1))
    typer.echo(f"wrote {', '.join(f'{b}.png' for b in WEDGE_MATERIALS)} to {out}")


@xray_app.command("calibrate")
def calibrate_command(
    organic: Path = typer.Option(..., "--organic", help="PNG of the organic (PMMA) wedge."),
    aluminium: Path = typer.Option(..., "--aluminium", help="PNG of the aluminium wedge."),
    steel: Path = typer.Option(..., "--steel", help="PNG of the steel wedge."),
    lead: Path = typer.Option(..., "--lead", help="PNG of the lead wedge."),
    machine: str = typer.Option(..., "--machine", help="Machine id the calibration is for."),
    out: Path | None = typer.Option(None, "--out", help="File (default DIR/MACHINE.json)."),
    calibration_dir: Path = typer.Option(DEFAULT_DIR, "--calibration-dir"),
) -> None:
    """Fit the machine's material curves and flat field from its step-wedge images."""
    wedges = {}
    for base, path in zip(WEDGE_MATERIALS, (organic, aluminium, steel, lead), strict=True):
        try:
            img = decode_png(path.read_bytes())
        except (OSError, XrayImageError) as err:
            _fail(f"{path}: {err}")
            return
        wedges[base] = (img.low, img.high)
    try:
        cal = calibrate(machine, wedges)
    except CalibrationError as err:
        _fail(str(err))
        return
    target = out or calibration_dir / f"{machine}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    cal.save(target)
    typer.echo(
        f"calibration of {machine} written to {target} "
        f"(line spread {cal.line_spread_px:.2f} px: {blur_note(cal, ScreenConfig().signatures)})"
    )


def _declarations(path: Path | None) -> dict[str, Declaration]:
    """Postal declarations by item_id from a postal JSON file (none without a file)."""
    if path is None:
        return {}
    out: dict[str, Declaration] = {}
    with path.open("rb") as stream:
        for rec in read_postal_json(stream, source=str(path)):
            if isinstance(rec.item, Declaration):
                out[rec.item.business_key] = rec.item
    return out


@xray_app.command("screen")
def screen_command(
    images: list[Path] = typer.Argument(..., help="Stacked 16-bit PNGs."),
    machine: str = typer.Option(..., "--machine", help="Machine that took the images."),
    declarations: Path | None = typer.Option(None, "--declarations", help="Postal JSON file."),
    calibration_dir: Path = typer.Option(DEFAULT_DIR, "--calibration-dir"),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    pixel_mm: float = typer.Option(
        0.6, "--pixel-mm", min=0.05, max=5.0, help="The machine's pixel at the belt, mm."
    ),
) -> None:
    """Replay the pre-screen on stored images: file, state, flags, regions, scores per image."""
    cal_path = calibration_dir / f"{machine}.json"
    cal = None
    if cal_path.exists():
        try:
            cal = Calibration.load(cal_path)
        except (OSError, ValueError) as err:
            _fail(f"{cal_path}: not a usable calibration: {err}")
    decls = _declarations(declarations)
    cfg = at_pitch(ScreenConfig(), pixel_mm)
    rows: list[dict[str, object]] = []
    for path in images:
        row: dict[str, object] = {"file": str(path)}
        try:
            res = screen(path.read_bytes(), cal, decls.get(path.stem), cfg)
            row.update(res.as_dict())
            row["flags"] = sorted(
                {
                    r["kind"]
                    for r in res.as_dict()["regions"]  # type: ignore[attr-defined]
                    if not r["explained_by"] and r["score"] >= cfg.threshold
                }
            )
        except (OSError, XrayImageError) as err:
            row.update({"state": "PENDING", "reasons": [f"image not read: {err}"], "regions": []})
        rows.append(row)
    if as_json:
        sys.stdout.write(
            json.dumps(
                {"machine": machine, "calibrated": cal is not None, "images": rows},
                ensure_ascii=False,
                indent=1,
            )
            + "\n"
        )
        return
    for row in rows:
        flags = ",".join(row.get("flags", []) or []) or "-"  # type: ignore[arg-type]
        typer.echo(f"{row['file']}\t{row['state']}\tflags={flags}")
        for reg in row.get("regions", []):  # type: ignore[attr-defined]
            typer.echo(
                f"  {reg['kind']:<12} score {reg['score']:.2f} box {reg['box']} "
                f"{'explained by ' + reg['explained_by'] if reg['explained_by'] else ''}"
            )
        for why in row.get("reasons", []):  # type: ignore[attr-defined]
            typer.echo(f"  reason: {why}")


@xray_app.command("phantoms")
def phantoms_command(
    machine: str = typer.Option(..., "--machine", help="Simulated machine profile."),
    out: Path = typer.Option(Path("."), "--out", help="Directory for PNGs and declarations."),
    count: int = typer.Option(5, "--count", min=1, max=10000),
    seed: int = typer.Option(0, "--seed"),
    threat: str | None = typer.Option(None, "--threat", help="Threat class to add to each."),
) -> None:
    """Render phantom parcels: ITEM.png, truth in ITEM.json, declarations.json (postal)."""
    from simulators.xray.phantom import render_phantom
    from simulators.xray.physics import load_profiles
    from simulators.xray.threats import THREATS

    profiles = load_profiles()
    if machine not in profiles:
        _fail(f"unknown machine profile {machine!r}; known: {sorted(profiles)}")
    if threat is not None and threat not in THREATS:
        _fail(f"unknown threat class {threat!r}; known: {sorted(THREATS)}")
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for k in range(count):
        serial = f"{(seed + k) % 10**8:08d}"
        item_id = f"XR{serial}{s10_check_digit(serial)}CN"
        ph = render_phantom(profiles[machine], seed + k, threat)
        (out / f"{item_id}.png").write_bytes(encode_png(ph.image, 1))
        truth = {
            "item_id": item_id,
            "machine": machine,
            "seed": seed + k,
            "threat": threat,
            "objects": [{"cls": o.cls, "threat": o.threat, "box": list(o.box)} for o in ph.objects],
        }
        (out / f"{item_id}.json").write_text(json.dumps(truth, ensure_ascii=False), "utf-8")
        goods = ph.goods or (("4901990000", "printed books 图书"),)
        items.append(
            {
                "item_id": item_id,
                "category": "sale_of_goods",
                "currency": "CNY",
                "total_gross_weight_kg": "2.0",
                "total_value": "100",
                "sender": {"name": "Sender", "country": "CN"},
                "addressee": {"name": "Addressee"},
                "contents": [
                    {
                        "description": name,
                        "hs_code": hs,
                        "quantity": 1,
                        "value": str(Decimal(10)),
                        "net_weight_kg": "0.2",
                    }
                    for hs, name in goods
                ],
            }
        )
    (out / "declarations.json").write_text(json.dumps(items, ensure_ascii=False, indent=1), "utf-8")
    typer.echo(f"wrote {count} phantoms and declarations.json to {out}")


@xray_app.command("tip-library")
def tip_library_command(
    machine: str = typer.Option(..., "--machine", help="Machine profile to image them on."),
    out: Path = typer.Option(Path("tip-library"), "--out", help="Directory of the library."),
    per_class: int = typer.Option(4, "--per-class", min=1, max=100),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Build the threat image projection library: each threat imaged alone, library.json."""
    from simulators.xray.physics import load_profiles
    from simulators.xray.tip_library import build_library

    profiles = load_profiles()
    if machine not in profiles:
        _fail(f"unknown machine profile {machine!r}; known: {sorted(profiles)}")
    items = build_library(profiles[machine], out, per_class=per_class, seed=seed)
    typer.echo(f"wrote {len(items)} threat images and library.json to {out}")
