"""Import rate of CEB621 XML into SQLite, its memory growth, beside a bare executemany floor.

Each import runs in a fresh Python process (``python -m clearline.bench.import_rate FILE
URL``) so its memory growth is measured alone; the floor runs here.
"""

from __future__ import annotations

import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

from clearline.bench.core import BenchContext, BenchResult

TARGET_RATE = 20_000  # records/s
TARGET_1M_S = 60.0  # seconds for 1,000,000 records
FULL = 1_000_000
_CHINA = timezone(timedelta(hours=8))
_GOODS = (
    ("3304990099", "保湿面霜", "50ml|盒|护肤"),
    ("6109100021", "棉制针织T恤衫", "100%棉|男式|针织"),
    ("6403990090", "运动鞋", "皮革|双"),
    ("1901101000", "婴幼儿配方奶粉", "900g|罐|3段"),
    ("8518300000", "蓝牙耳机", "无线|副"),
    ("4202221000", "手提包", "牛皮|个"),
)


def _amount(rng: random.Random, low: int, high: int) -> Decimal:
    """A random amount with 5 decimal places."""
    return Decimal(rng.randrange(low * 100_000, high * 100_000)).scaleb(-5)


def declarations(count: int, seed: int) -> Iterator[Any]:
    """Yield ``count`` CEB621 inventories: 1–2 lines each, Chinese names, 5-decimal amounts."""
    from inspection.model import Declaration, DocKind, GoodsLine

    rng = random.Random(seed)
    start = datetime(2026, 11, 1, 8, 0, tzinfo=_CHINA)
    for i in range(1, count + 1):
        lines = []
        for gnum in range(1, rng.randint(1, 2) + 1):
            hs, name, model = rng.choice(_GOODS)
            qty = Decimal(rng.randint(1, 3))
            price = _amount(rng, 5, 900)
            lines.append(
                GoodsLine(gnum, hs, name, model, qty, "011", price, qty * price, "142", "116")
            )
        cop = f"S{seed}COP{i:010d}"
        yield Declaration(
            kind=DocKind.INVENTORY,
            message_type="CEB621",
            business_key=f"3301960001:{cop}",
            order_no=f"S{seed}ORD{i:010d}",
            logistics_no=f"S{seed}YT{i:010d}",
            invt_no=f"S{seed}INV{i:010d}",
            cop_no=cop,
            ebp_code="3301960002",
            ebc_code="3301960003",
            logistics_code="3301980001",
            agent_code="3301960001",
            trade_mode=rng.choice(("9610", "1210")),
            ie_flag="I",
            decl_time=start + timedelta(seconds=i),
            buyer_id_type="1",
            buyer_id_number=f"1101011990{i % 10**8:08d}",
            buyer_name="张三",
            buyer_telephone=f"138{i % 10**8:08d}",
            consignee_address="浙江省杭州市西湖区文三路100号",
            freight=_amount(rng, 0, 20),
            currency="142",
            gross_weight_kg=_amount(rng, 1, 5),
            net_weight_kg=_amount(rng, 0, 1),
            country="142",
            lines=tuple(lines),
        )


def write_file(path: Path, count: int, seed: int) -> int:
    """Write a CEB621 message of ``count`` records to ``path``; return its size in bytes."""
    from inspection.formats.ceb_write import write_ceb

    with path.open("wb") as f:
        write_ceb(f, "CEB621", declarations(count, seed), cop_code="3301960001")
    return path.stat().st_size


def _rss_mb() -> float:
    """Current resident memory of this process in MiB."""
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def _cpu_s() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its ended child processes."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def child_import(path: Path, url: str) -> dict[str, Any]:
    """Import ``path`` into ``url`` (migrated first, as ``clearline import`` does) and measure it.

    CPU seconds are this process's plus those of the reader processes it started.
    """
    from hub.db.engine import make_engine
    from hub.db.migrate import upgrade
    from hub.importing.importer import import_file

    engine = make_engine(url)
    upgrade(engine)
    samples: list[float] = []
    rss0 = _rss_mb()
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    report = import_file(engine, path, progress=lambda _done, _total: samples.append(_rss_mb()))
    seconds = time.perf_counter() - t0
    cpu_self, cpu_children = (a - b for a, b in zip(_cpu_s(), cpu0, strict=True))
    engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "records": report.records_read,
        "accepted": report.accepted,
        "error": report.error,
        "seconds": seconds,
        "cpu_writer_s": cpu_self,
        "cpu_reader_s": cpu_children,
        "rss_start_mb": rss0,
        "rss_end_mb": samples[-1] if samples else rss0,
        "rss_growth_mb": max(peak, *samples) - rss0 if samples else peak - rss0,
    }


def _run_child(path: Path, url: str) -> dict[str, Any]:
    """Run :func:`child_import` in a fresh interpreter and return its figures."""
    cmd = [sys.executable, "-m", "clearline.bench.import_rate", str(path), url]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"import child failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["error"] or result["accepted"] != result["records"]:
        raise RuntimeError(f"import of {path.name} was not clean: {result}")
    return result


def parse_rate(path: Path) -> float:
    """Return records/s of reading ``path`` with the format reader alone (nothing stored)."""
    from inspection.formats import detect_format, read_records
    from inspection.formats.detect import HEAD_BYTES

    with path.open("rb") as f:
        fmt = detect_format(f.read(HEAD_BYTES), path.name)
        f.seek(0)
        t0 = time.perf_counter()
        count = sum(1 for _ in read_records(f, fmt, path.name))
        seconds = time.perf_counter() - t0
    return count / seconds if seconds else float("inf")


def floor_rate(db_path: Path, count: int, seed: int, batch: int = 2_000) -> float:
    """Return records/s of a bare sqlite3 executemany of the same rows (built untimed).

    The rows are what the import writes for a new declaration: the head, its lines and
    its sync change number (its filing is the row itself until it is amended), into the
    same schema with the same pragmas and foreign-key checks off, as the import has them.
    """
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from hub.db.engine import SQLITE_CACHE_KIB, make_engine
    from hub.db.migrate import upgrade
    from hub.db.models import DECLARATION, DECLARATION_LINE
    from hub.importing.rows import IdSource, Prepared, RowShaper, head_row

    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)  # the same schema and triggers as the import
    engine.dispose()
    shaper, ids = RowShaper(sqlite_dialect.dialect()), IdSource(as_text=True)
    con = sqlite3.connect(db_path, isolation_level=None)
    pragmas = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=OFF")
    for pragma in (*pragmas, f"cache_size=-{SQLITE_CACHE_KIB}"):
        con.execute(f"PRAGMA {pragma}")

    def sql(table: Any) -> str:
        return f"INSERT INTO {table.name} VALUES ({', '.join('?' * len(table.columns))})"

    sync_sql = "INSERT INTO sync_change (declaration_id) VALUES (?)"
    stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    timed = 0.0
    source = declarations(count, seed)
    done = 0
    while done < count:
        prepared = [shaper.prepare(0, d) for d in islice(source, batch)]
        heads: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        for p, hid in zip(prepared, ids.take(len(prepared)), strict=True):
            if not isinstance(p, Prepared):
                raise RuntimeError(f"generated record refused: {p}")
            heads.append(head_row(hid, p, stamp, "floor"))
            line_ids = ids.take(len(p.lines))
            lines.extend((lid, hid, *v) for lid, v in zip(line_ids, p.lines, strict=True))
        syncs = [(h[0],) for h in heads]
        t0 = time.perf_counter()
        con.execute("BEGIN")
        con.executemany(sql(DECLARATION), heads)
        con.executemany(sql(DECLARATION_LINE), lines)
        con.executemany(sync_sql, syncs)
        con.execute("COMMIT")
        timed += time.perf_counter() - t0
        done += len(prepared)
    con.close()
    return count / timed if timed else float("inf")


def run(ctx: BenchContext) -> list[BenchResult]:
    """Generate CEB621 files, import them into fresh SQLite files and compare to the floor."""
    n = ctx.n(FULL, minimum=2_000)
    quarter = max(500, n // 4)
    work = ctx.workdir / "import"
    work.mkdir(parents=True, exist_ok=True)
    files = {}
    for label, count, seed in (("quarter", quarter, 1), ("full", n, 2)):
        ctx.progress(f"import: writing a CEB621 file of {count:,} records")
        path = work / f"ceb621_{label}.xml"
        size = write_file(path, count, seed)
        files[label] = (path, count, size)
    ctx.progress(f"import: reading the {quarter:,}-record file without storing it")
    reader_rate = parse_rate(files["quarter"][0])
    runs = {}
    for label, (path, count, _size) in files.items():
        ctx.progress(f"import: importing {count:,} records ({label})")
        db = work / f"{label}.db"
        runs[label] = _run_child(path, f"sqlite:///{db}")
        for leftover in (path, *work.glob(f"{label}.db*")):
            leftover.unlink(missing_ok=True)
    ctx.progress(f"import: floor, bare executemany of {n:,} records")
    floor = floor_rate(work / "floor.db", n, seed=2)
    for leftover in work.glob("floor.db*"):
        leftover.unlink(missing_ok=True)
    full, small = runs["full"], runs["quarter"]
    rate = full["records"] / full["seconds"]
    # What this machine's cores would sustain on a quiet machine: the writer is one process,
    # the readers share what is left; all of it spread evenly at best.
    from hub.importing.pipe import reader_count, usable_cores

    cores = usable_cores()
    total_cpu = full["cpu_writer_s"] + full["cpu_reader_s"]
    pace = max(full["cpu_writer_s"], total_cpu / cores)
    cpu_rate = full["records"] / pace if pace else float("inf")
    per_million_s = full["seconds"] * FULL / full["records"]
    growth_full, growth_small = full["rss_growth_mb"], small["rss_growth_mb"]
    details = {
        "records": full["records"],
        "file_mb": round(files["full"][2] / 2**20, 1),
        "seconds": round(full["seconds"], 3),
        "quarter_records": small["records"],
        "quarter_records_per_s": round(small["records"] / small["seconds"]),
        "file_mb_per_s": round(files["full"][2] / 2**20 / full["seconds"], 1),
        "reader_only_records_per_s": round(reader_rate),
        "cpu_writer_us_per_record": round(full["cpu_writer_s"] / full["records"] * 1e6, 1),
        "cpu_reader_us_per_record": round(full["cpu_reader_s"] / full["records"] * 1e6, 1),
        "cpu_bound_records_per_s": round(cpu_rate),
        "reader_processes": reader_count(),
        "cores": cores,
        "rss_growth_mb_full": round(growth_full, 1),
        "rss_growth_mb_quarter": round(growth_small, 1),
        "memory_flat": growth_full <= 1.5 * growth_small + 16,
        "projected_1m_seconds": round(per_million_s, 1),
    }
    return [
        BenchResult(
            name="import_ceb621_records_per_s",
            value=round(rate, 1),
            unit="records/s",
            floor_name="sqlite3_executemany_records_per_s",
            floor_value=round(floor, 1),
            target=f">= {TARGET_RATE}",
            meets_target=rate >= TARGET_RATE,
            details=details,
        ),
        BenchResult(
            name="import_1m_seconds",
            value=round(full["seconds"], 3),
            unit="s",
            floor_name="sqlite3_executemany_seconds",
            floor_value=round(full["records"] / floor, 3),
            target=f"<= {TARGET_1M_S:g}",
            meets_target=per_million_s <= TARGET_1M_S,
            details={"records": full["records"], "meaningful": full["records"] >= FULL},
        ),
    ]


def _main(argv: list[str]) -> int:
    """Child entry point: import ``argv[0]`` into the URL ``argv[1]``, print JSON figures."""
    result = child_import(Path(argv[0]), argv[1])
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
