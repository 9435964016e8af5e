"""``generate()``: write a seeded site scenario: declarations, receipts, truth, expected outcomes.

Writing streams: each parcel's truth and expected decision go straight to their JSON Lines
files, and its documents to one temporary spool per output file; each declaration or
receipt file is then written from its spool. Only the few open case groups (an annual-limit
buyer, a duplicate label) are held in memory.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import pickle
import random
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from contracts.reasons import Outcome, Reason
from inspection.formats.ceb_notice_write import write_notices
from inspection.formats.ceb_write import write_ceb
from inspection.formats.postal import write_postal_json
from inspection.model import Declaration, DocKind, FormatError, Notice, Receipt
from inspection.rules import RuleSet
from simulators.scenario.builders import BUILDERS
from simulators.scenario.cases import DUPLICATE_GROUP, Mix, Schedule, allocate
from simulators.scenario.context import Context
from simulators.scenario.model import Case, ScenarioError, Summary
from simulators.scenario.parcel import Built
from simulators.scenario.withdrawals import return_group_size

logger = logging.getLogger(__name__)

#: Output files of declarations and receipts: relative path and CEB message type ("" = postal).
DECLARATION_FILES: dict[DocKind, tuple[str, str]] = {
    DocKind.ORDER: ("declarations/ceb311.xml", "CEB311"),
    DocKind.PAYMENT: ("declarations/ceb411.xml", "CEB411"),
    DocKind.WAYBILL: ("declarations/ceb511.xml", "CEB511"),
    DocKind.INVENTORY: ("declarations/ceb621.xml", "CEB621"),
    DocKind.EXPORT_INVENTORY: ("declarations/ceb603.xml", "CEB603"),
    DocKind.POSTAL: ("declarations/postal.json", ""),
}
RECEIPT_FILES: dict[DocKind, tuple[str, str]] = {
    DocKind.INVENTORY: ("receipts/ceb622.xml", "CEB622"),
    DocKind.EXPORT_INVENTORY: ("receipts/ceb604.xml", "CEB604"),
    DocKind.POSTAL: ("receipts/postal-receipts.json", ""),
}
#: Output files of notices: cancellation and return requests, and customs' answers.
NOTICE_FILES: dict[str, str] = {
    "CEB623": "declarations/ceb623.xml",
    "CEB625": "declarations/ceb625.xml",
    "CEB624": "receipts/ceb624.xml",
    "CEB626": "receipts/ceb626.xml",
}
PARCELS_FILE = "parcels.jsonl"
EXPECTED_FILE = "expected.jsonl"
SUMMARY_FILE = "scenario.json"

#: What the expected outcomes assume (also written into scenario.json).
ASSUMPTIONS = (
    "Every declaration and receipt file is loaded before the first parcel is decided; "
    "the latest receipt of a declaration (file order) is its customs status.",
    "Every parcel is weighed once, stably, at its true weight (parcels.jsonl weight_kg): "
    "weight_deviation parcels lie outside the rules' tolerance, all others within half of it.",
    "X-ray review is perfect: a parcel with xray_threat true is SUSPECT (XRAY_SUSPECT, "
    "INSPECT); every other parcel is CLEARED.",
    "Random selection: codes are chosen so that random_draw(rules seed, code) is below the "
    "grade's rate only for random_selection parcels; a parcel the draw still selects "
    "carries RANDOM_SELECTION in expected.jsonl.",
    "The line flags a parcel whose label an earlier parcel already carried (duplicate_of) "
    "as DUPLICATE_PARCEL.",
    "Annual limit: the buyer's calendar-year total up to and including the transaction, in "
    "declaration-time order, without customs-rejected (100) or returned (700) transactions.",
    "Decisions are made in time, with no device fault and no inspector hold.",
)

Progress = Callable[[int, int], None]


class _Spool:
    """The records of one output file, pickled to a temporary file until it is written."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = path.open("w+b")
        self.count = 0

    def add(self, record: Declaration | Receipt | Notice) -> None:
        pickle.dump(record, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def replay(self) -> Iterator[Any]:
        self._file.flush()
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)  # our own temporary file, written above

    def close(self) -> None:
        self._file.close()


def _guid(seed: int, name: str) -> str:
    digest = hashlib.sha256(f"clearline-scenario:{seed}:{name}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4)).upper()


def _plan(parcels: int, ctx: Context, mix: Mix) -> tuple[dict[Case, int], Mix, dict[Case, str]]:
    skipped = ctx.impossible()
    if return_group_size(ctx) == 0:
        why = "the limits need more than 40 orders to cross the annual total"
        skipped[Case.CONSUMER_RETURN] = why
    shares = {c: 0.0 if c in skipped else s for c, s in mix.shares.items()}
    if sum(shares.values()) <= 0.0:
        raise ScenarioError(f"the mix asks only for cases these rules make impossible: {skipped}")
    used = Mix(shares=shares)
    sizes = {
        Case.ANNUAL_LIMIT: ctx.annual_group_size,
        Case.DUPLICATE: DUPLICATE_GROUP,
        Case.CONSUMER_RETURN: return_group_size(ctx),
    }
    return allocate(parcels, used, sizes), used, skipped


class _Writer:
    """Streams built parcels to the JSON Lines files and the document spools; tallies counts."""

    def __init__(self, out: Path, spool_dir: Path) -> None:
        self.parcels = (out / PARCELS_FILE).open("w", encoding="utf-8")
        self.expected = (out / EXPECTED_FILE).open("w", encoding="utf-8")
        self.declarations = {k: _Spool(spool_dir / f"d-{k.value}") for k in DECLARATION_FILES}
        self.receipts = {k: _Spool(spool_dir / f"r-{k.value}") for k in RECEIPT_FILES}
        self.notices = {k: _Spool(spool_dir / f"n-{k}") for k in NOTICE_FILES}
        self.cases: Counter[Case] = Counter()
        self.outcomes: Counter[Outcome] = Counter()
        self.reasons: Counter[Reason] = Counter()

    def write(self, built: Built) -> None:
        self.parcels.write(built.truth.model_dump_json() + "\n")
        self.expected.write(built.expected.model_dump_json() + "\n")
        for decl in built.declarations:
            self.declarations[decl.kind].add(decl)
        for receipt in built.receipts:
            self.receipts[receipt.kind].add(receipt)
        for notice in built.notices:
            self.notices[notice.message_type].add(notice)
        self.cases[built.truth.case] += 1
        self.outcomes[built.expected.outcome] += 1
        self.reasons.update(built.expected.reasons)

    def finish(self, out: Path, seed: int) -> dict[str, int]:
        """Close the JSON Lines files and write every declaration and receipt file."""
        self.parcels.close()
        self.expected.close()
        files = {PARCELS_FILE: self.cases.total(), EXPECTED_FILE: self.cases.total()}
        for table, spools in (
            (DECLARATION_FILES, self.declarations),
            (RECEIPT_FILES, self.receipts),
        ):
            for kind, (rel, message_type) in table.items():
                spool = spools[kind]
                with (out / rel).open("wb") as stream:
                    if message_type:
                        n = write_ceb(
                            stream,
                            message_type,
                            spool.replay(),
                            guid=_guid(seed, rel),
                            cop_code="3301960ABC",
                            cop_name="Clearline scenario",
                        )
                    else:
                        n = write_postal_json(stream, spool.replay())
                files[rel] = n
        for notice_type, rel in NOTICE_FILES.items():
            if self.notices[notice_type].count:
                with (out / rel).open("wb") as stream:
                    replay = self.notices[notice_type].replay()
                    files[rel] = write_notices(stream, notice_type, replay, guid=_guid(seed, rel))
        return files

    def close(self) -> None:
        self.parcels.close()
        self.expected.close()
        for spool in (*self.declarations.values(), *self.receipts.values(), *self.notices.values()):
            spool.close()


def generate(
    parcels: int,
    seed: int,
    out: Path,
    rules: RuleSet,
    *,
    mix: Mix | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Write a scenario of ``parcels`` parcels from ``seed`` into the folder ``out``.

    Expected outcomes assume ``rules``. The same arguments always give byte-identical files.
    ``progress(done, total)`` is called every 1,000 parcels and at the end. Raises
    ``ScenarioError`` for a bad count, folder, mix or rules.
    """
    if parcels < 1:
        raise ScenarioError(f"--parcels must be at least 1, got {parcels}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"{out}: exists and is not a folder")
    ctx = Context(rules, seed)
    units, used_mix, skipped = _plan(parcels, ctx, mix or Mix())
    for sub in ("declarations", "receipts"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    order_rng = random.Random(f"clearline-scenario-order:{seed}")
    schedule = Schedule(units, order_rng)
    groups = (Case.ANNUAL_LIMIT, Case.DUPLICATE, Case.CONSUMER_RETURN)
    with tempfile.TemporaryDirectory(dir=out, prefix=".spool-") as tmp:
        writer = _Writer(out, Path(tmp))
        try:
            pending: list[tuple[int, int, Iterator[Built]]] = []
            unit_no = 0

            def emit(builder: Iterator[Built]) -> bool:
                ctx.seq += 1
                try:
                    built = next(builder)
                except StopIteration:
                    ctx.seq -= 1
                    return False
                writer.write(built)
                if progress is not None and ctx.seq % 1000 == 0:
                    progress(ctx.seq, parcels)
                return True

            while len(schedule) or pending:
                while pending and (pending[0][0] <= unit_no or not len(schedule)):
                    _due, tie, builder = heapq.heappop(pending)
                    if emit(builder):
                        heapq.heappush(pending, (unit_no + order_rng.randint(1, 8), tie, builder))
                if len(schedule):
                    case = schedule.draw()
                    unit_no += 1
                    builder = BUILDERS[case](ctx)
                    if emit(builder) and case in groups:
                        heapq.heappush(
                            pending, (unit_no + order_rng.randint(1, 8), unit_no, builder)
                        )
            if ctx.seq != parcels:
                raise AssertionError(f"built {ctx.seq} parcels, planned {parcels}")
            files = writer.finish(out, seed)
        except FormatError as err:
            raise ScenarioError(f"a generated record cannot be written: {err}") from err
        finally:
            writer.close()
    if progress is not None and parcels % 1000:
        progress(parcels, parcels)
    summary = Summary(
        seed=seed,
        parcels=parcels,
        rules_version=rules.version,
        rules_digest=rules.digest,
        mix={c: round(s, 6) for c, s in used_mix.shares.items()},
        counts={c: writer.cases[c] for c in Case if writer.cases[c]},
        outcomes={o: writer.outcomes[o] for o in Outcome if writer.outcomes[o]},
        reasons={r: writer.reasons[r] for r in Reason if writer.reasons[r]},
        files=files,
        skipped=skipped,
        assumptions=ASSUMPTIONS,
    )
    (out / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
    logger.info("scenario: %s parcels from seed %s written to %s", f"{parcels:,}", seed, out)
    return summary
