"""The command line: --help everywhere, and the demo's real run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from clearline.cli import app

runner = CliRunner()


def _paths(cmd: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, sub in getattr(cmd, "commands", {}).items():
        out.extend(_paths(sub, (*prefix, name)))
    return out


def test_every_command_has_help() -> None:
    """`--help` works on the root and on every sub-command, and says what it does."""
    root = typer.main.get_command(app)
    paths = _paths(root)
    assert ("import",) in paths and ("demo",) in paths and ("bench",) in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_demo_json_decides_examples(tmp_path: Path) -> None:
    """The demo imports real files and decides each example as the rules say."""
    result = runner.invoke(app, ["demo", "--table", "--json", "--workdir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert all(r["error"] is None and r["rejected"] == 0 for r in doc["imports"])
    by_label = {row["parcel"]: row for row in doc["decisions"]}
    expect = {
        "customs chose inspection": ("INSPECT", "CUSTOMS_INSPECT"),
        "detained by customs": ("HOLD", "CUSTOMS_DETAINED"),
        "return to sender": ("RETURN", "CUSTOMS_RETURN"),
        "payment never filed": ("INSPECT", "THREE_DOC_MISMATCH"),
        "damaged S10 label": ("REJECT", "INVALID_CODE"),
        "no label read": ("REJECT", "NO_READ"),
        "two labels, two declarations": ("REJECT", "MULTI_READ_CONFLICT"),
        "label never filed": ("HOLD", "NOT_DECLARED"),
        "postal item (S10)": ("RELEASE", None),
    }
    for label, (outcome, reason) in expect.items():
        row = by_label[label]
        assert row["outcome"] == outcome, row
        assert (reason in row["reasons"]) if reason else row["reasons"] == []
    # no identity or phone number stored in the database appears in the output
    with sqlite3.connect(tmp_path / "demo" / "demo.db") as db:
        secrets = {
            v
            for row in db.execute(
                "SELECT buyer_id_number, buyer_telephone, payer_id_number FROM declaration"
            )
            for v in row
            if v
        }
    assert len(secrets) > 20
    assert not any(v in result.stdout for v in secrets)
