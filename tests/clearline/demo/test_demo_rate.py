"""``clearline demo --rate`` is checked against the demo line's belt before anything starts."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from clearline.cli import app

runner = CliRunner()


def test_a_rate_the_belt_cannot_carry_is_refused_with_what_it_can(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "--rate", "20", "--headless", "--workdir", str(tmp_path / "demo")]
    )
    assert result.exit_code == 2
    # rich draws the error in a box whose width follows the terminal: read only the words
    text = " ".join(w for w in result.output.replace("│", " ").split() if w.strip("─╭╮╰╯"))
    assert "20 parcels/s is more than the demo line" in text
    assert "less than 13.3 parcels/s" in text
    assert not (tmp_path / "demo").exists()  # refused before anything started
