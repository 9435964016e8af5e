"""Tests of the scenario generator: determinism, the case mix, the files and the decisions."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from contracts.clock import ManualClock
from contracts.facts import ParcelFacts
from contracts.reasons import Outcome, Reason
from contracts.statuses import XrayState
from inspection.decision import Decision
from inspection.formats import detect_format, read_records
from inspection.identity import is_valid_s10
from inspection.index import DeclarationIndex
from inspection.model import Declaration, Notice, Receipt, RecordError
from inspection.pipeline import decide_parcel
from inspection.rules import RuleSet, load_rules, parse_rules
from simulators.cli import scenario as cli_scenario
from simulators.scenario import Case, Expected, Mix, ParcelTruth, ScenarioError, generate
from simulators.scenario.cases import DEFAULT_SHARES, Schedule, allocate, load_mix
from simulators.scenario.generate import DECLARATION_FILES, NOTICE_FILES, RECEIPT_FILES

CLOCK = ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
DEFAULT_RULES = load_rules()


@dataclass(frozen=True)
class Judged:
    """One parcel of a generated scenario with the decision the real index gives it."""

    truth: ParcelTruth
    expected: Expected
    decision: Decision


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,000-parcel scenario under the packaged rules."""
    out = tmp_path_factory.mktemp("scenario") / "s1000"
    generate(1000, 11, out, DEFAULT_RULES)
    return out


def _records(path: Path) -> Iterator[Declaration | Receipt | Notice | RecordError | object]:
    with path.open("rb") as stream:
        fmt = detect_format(stream.read(8192), str(path))
        stream.seek(0)
        for record in read_records(stream, fmt, str(path)):
            yield record.item


def _scenario_files(out: Path) -> list[Path]:
    rels = [rel for rel, _ in (*DECLARATION_FILES.values(), *RECEIPT_FILES.values())]
    rels += [rel for rel in NOTICE_FILES.values() if (out / rel).exists()]
    return [out / rel for rel in rels]


def _truths(out: Path) -> list[ParcelTruth]:
    with (out / "parcels.jsonl").open(encoding="utf-8") as f:
        return [ParcelTruth.model_validate_json(line) for line in f]


def _expected(out: Path) -> list[Expected]:
    with (out / "expected.jsonl").open(encoding="utf-8") as f:
        return [Expected.model_validate_json(line) for line in f]


def _judge(out: Path, rules: RuleSet) -> list[Judged]:
    """Load every file into the real index and decide every parcel from its truth."""
    index = DeclarationIndex()
    for path in _scenario_files(out):
        for item in _records(path):
            if isinstance(item, Declaration):
                index.add(item)
            elif isinstance(item, Receipt):
                index.set_status(item.kind, item.business_key, item.return_status)
            elif isinstance(item, Notice):
                index.apply_notice(item)
            else:
                pytest.fail(f"{path}: rejected record {item}")
    judged = []
    for truth, expected in zip(_truths(out), _expected(out), strict=True):
        facts = ParcelFacts(
            weight_kg=truth.weight_kg,
            weight_stable=True,
            xray=XrayState.SUSPECT if truth.xray_threat else XrayState.CLEARED,
            duplicate=truth.duplicate_of is not None,
        )
        decision = decide_parcel(index, list(truth.labels), facts, rules, CLOCK).decision
        judged.append(Judged(truth, expected, decision))
    return judged


def _mismatches(judged: list[Judged]) -> list[str]:
    """Parcels whose decision differs from expected.jsonl: outcome, a missing or extra reason."""
    bad = []
    for j in judged:
        got, want = set(j.decision.reasons), set(j.expected.reasons)
        extra = got - want
        if j.decision.outcome is not j.expected.outcome or want - got or extra:
            bad.append(
                f"seq {j.truth.seq} {j.expected.case.value} {j.expected.variant}: expected "
                f"{j.expected.outcome.value} {sorted(want)}, got {j.decision.outcome.value} "
                f"{list(j.decision.reasons)} {j.decision.notes}"
            )
    return bad


def test_every_parcel_gets_its_expected_decision(scenario: Path) -> None:
    """The decision pipeline gives each parcel's truth exactly the expected outcome and reasons."""
    judged = _judge(scenario, DEFAULT_RULES)
    assert len(judged) == 1000
    assert _mismatches(judged) == []
    assert {j.decision.outcome for j in judged} == set(Outcome)


def test_the_customs_review_cases_are_in_the_mix(scenario: Path) -> None:
    """Conflicts, tax mismatches, single items and Hong Kong postal limits are generated and
    decided as the rules say (expected outcomes computed by the generator, not decide())."""
    judged = _judge(scenario, DEFAULT_RULES)
    want = {
        Case.DECLARATION_CONFLICT: (Outcome.HOLD, Reason.DECLARATION_CONFLICT),
        Case.TAX_MISMATCH: (Outcome.INSPECT, Reason.TAX_MISMATCH),
        Case.POSTAL_HK_LIMIT: (Outcome.INSPECT, Reason.VALUE_LIMIT),
    }
    for case, (outcome, reason) in want.items():
        mine = [j for j in judged if j.expected.case is case]
        assert mine, case
        assert all(j.expected.outcome is outcome and reason in j.expected.reasons for j in mine)
        assert all(reason in j.decision.reasons for j in mine)
    singles = [j for j in judged if j.expected.case is Case.SINGLE_ITEM]
    assert singles and all(Reason.VALUE_LIMIT not in j.decision.reasons for j in singles)


def test_files_parse_back_with_zero_rejections(scenario: Path) -> None:
    """Every file is detected as its format and read with no rejected record."""
    summary = json.loads((scenario / "scenario.json").read_text(encoding="utf-8"))
    for path in _scenario_files(scenario):
        items = list(_records(path))
        assert not [i for i in items if isinstance(i, RecordError)], path
        assert len(items) == summary["files"][path.relative_to(scenario).as_posix()]
    assert summary["files"]["declarations/ceb603.xml"] > 0
    assert summary["files"]["receipts/postal-receipts.json"] > 0


def test_truth_and_expected_line_up(scenario: Path) -> None:
    """Parcels are in induction order, and labels, duplicates and threats fit their case."""
    truths, expected = _truths(scenario), _expected(scenario)
    assert [t.seq for t in truths] == list(range(1, 1001))
    assert [e.seq for e in expected] == list(range(1, 1001))
    by_seq = {t.seq: t for t in truths}
    for t, e in zip(truths, expected, strict=True):
        assert t.case is e.case and t.variant == e.variant
        assert t.xray_threat is t.contents.has_threat
        assert t.xray_threat is t.case.value.startswith("xray_")
        if t.case is Case.NO_READ:
            assert t.labels == ()
        elif t.case is Case.MULTI_READ_CONFLICT:
            assert len(set(t.labels)) == 2
        elif t.case is Case.INVALID_CODE:
            assert len(t.labels) == 1 and not is_valid_s10(t.labels[0])
            assert is_valid_s10(e.code)
        else:
            assert list(t.labels) == [e.code]
        if t.duplicate_of is not None:
            first = by_seq[t.duplicate_of]
            assert first.seq < t.seq and first.labels == t.labels and t.variant == "copy"


def test_annual_limit_crosses_in_time_order(scenario: Path) -> None:
    """In every buyer group the limit is crossed once and stays crossed for later orders."""
    groups: dict[int, list[Expected]] = {}
    current = 0
    for e in _expected(scenario):
        if e.case is Case.ANNUAL_LIMIT:
            order, _, size = e.variant.split()[1].partition("/")
            current += order == "1"
            groups.setdefault(current, []).append(e)
            assert len(groups[current]) == int(order) <= int(size)
    assert groups
    for members in groups.values():
        counted = [Reason.ANNUAL_LIMIT in e.reasons for e in members if "excluded" not in e.variant]
        assert True in counted and False in counted
        first = counted.index(True)
        assert all(counted[first:]), counted


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    """The same seed writes byte-identical files; another seed writes other parcels."""
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate(250, seed, tmp_path / name, DEFAULT_RULES)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    assert len([f for f in files if (tmp_path / "a" / f).is_file()]) == 16  # 4 of notices
    for rel in files:
        a, b = tmp_path / "a" / rel, tmp_path / "b" / rel
        assert a.is_dir() or a.read_bytes() == b.read_bytes(), rel
    parcels = "parcels.jsonl"
    assert (tmp_path / "a" / parcels).read_bytes() != (tmp_path / "c" / parcels).read_bytes()


def test_every_case_present_from_200_parcels(tmp_path: Path) -> None:
    """200 parcels hold every case, with about 60 % clean releases."""
    summary = generate(200, 3, tmp_path, DEFAULT_RULES)
    assert set(summary.counts) == set(Case)
    assert sum(summary.counts.values()) == 200
    assert 0.5 <= summary.counts[Case.RELEASED] / 200 <= 0.7
    assert Counter(t.case for t in _truths(tmp_path)) == summary.counts


def _rules_with(name: str, **changes: Any) -> RuleSet:
    """The packaged rules with top-level sections updated (one level deep)."""
    data = yaml.safe_load(resources.files("inspection").joinpath("data/rules.yaml").read_text())
    for key, value in changes.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    return parse_rules(yaml.safe_dump(data, allow_unicode=True), name)


def test_other_rules_are_predicted(tmp_path: Path) -> None:
    """With a high random-selection rate and tighter weights, predictions still hold."""
    rules = _rules_with(
        "strict.yaml",
        version="strict-1",
        weight={"abs_g": 20, "rel": 0.05},
        random_selection={"rates": {"advanced": 0.2, "general": 0.6, "dishonest": 0.9}},
    )
    summary = generate(300, 8, tmp_path, rules)
    assert summary.rules_digest == rules.digest
    assert _mismatches(_judge(tmp_path, rules)) == []


def test_rules_without_keywords_skip_those_cases(tmp_path: Path) -> None:
    """Cases the rules make impossible are skipped and recorded; the rest still check out."""
    rules = _rules_with("nokeywords.yaml", prohibited={"keywords": []}, restricted={"keywords": []})
    summary = generate(250, 9, tmp_path, rules)
    assert set(summary.skipped) == {Case.PROHIBITED_KEYWORD_ZH, Case.PROHIBITED_KEYWORD_EN}
    assert Case.PROHIBITED_KEYWORD_EN not in summary.counts
    assert _mismatches(_judge(tmp_path, rules)) == []


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    """A non-positive count, a file as folder and a bad mix file are clear errors."""
    with pytest.raises(ScenarioError, match="at least 1"):
        generate(0, 1, tmp_path / "x", DEFAULT_RULES)
    afile = tmp_path / "file"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not a folder"):
        generate(10, 1, afile, DEFAULT_RULES)
    mix = tmp_path / "mix.yaml"
    mix.write_text("released: 1\nno_such_case: 2\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"mix\.yaml.*no_such_case"):
        load_mix(mix)
    mix.write_text("released: -1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=">= 0"):
        load_mix(mix)


def test_custom_mix(tmp_path: Path) -> None:
    """A mix of only duplicates and releases gives pairs of same-labelled parcels."""
    mix_file = tmp_path / "mix.json"
    mix_file.write_text(
        json.dumps({c.value: 0 for c in Case} | {"released": 1, "duplicate": 1}), "utf-8"
    )
    summary = generate(41, 2, tmp_path / "out", DEFAULT_RULES, mix=load_mix(mix_file))
    assert set(summary.counts) == {Case.RELEASED, Case.DUPLICATE}
    assert summary.counts[Case.DUPLICATE] % 2 == 0
    assert sum(summary.counts.values()) == 41
    copies = [t for t in _truths(tmp_path / "out") if t.duplicate_of is not None]
    assert len(copies) == summary.counts[Case.DUPLICATE] // 2


@settings(max_examples=200, deadline=None)
@given(
    parcels=st.integers(1, 5000),
    shares=st.dictionaries(st.sampled_from(list(Case)), st.floats(0, 5), max_size=8),
    annual=st.integers(1, 12),
)
def test_allocation_is_exact(parcels: int, shares: dict[Case, float], annual: int) -> None:
    """Units always add up to the parcels asked for; enough parcels hold every active case."""
    if sum({**DEFAULT_SHARES, **shares}.values()) <= 0:
        return
    mix = Mix(shares=shares)
    sizes = {Case.ANNUAL_LIMIT: annual, Case.DUPLICATE: 2}
    units = allocate(parcels, mix, sizes)
    assert sum(n * sizes.get(c, 1) for c, n in units.items()) == parcels
    active = [c for c in Case if mix.shares[c] > 0]
    if parcels >= sum(sizes.get(c, 1) for c in active):
        assert set(active) <= set(units)
    schedule = Schedule(units, random.Random(parcels))
    drawn = Counter(schedule.draw() for _ in range(sum(units.values())))
    assert drawn == Counter(units)


def test_cli_generate_json_and_errors(tmp_path: Path) -> None:
    """`scenario generate --json` prints the summary; a missing rules file exits 2."""
    app = typer.Typer()
    cli_scenario.register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["scenario", "generate", "--parcels", "60", "--seed", "4", "--out", str(out), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["parcels"] == 60 and summary["seed"] == 4
    assert sum(summary["counts"].values()) == 60
    result = runner.invoke(app, args[:-1])
    assert result.exit_code == 0, result.output
    assert "expected outcomes" in result.stdout
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, [*args, "--rules", str(missing)])
    assert result.exit_code == 2
    assert "cannot read rules file" in result.stderr
