"""Audit a running ``clearline demo``: log errors, traceability of every label, the review queue.

Usage (while the demo runs, or after its scenario finished with the hub still up)::

    .venv/bin/python scripts/demo_audit.py --url http://127.0.0.1:8000 --workdir var/demo

It logs in as the demo's admin, then checks what issue "The site as its people use it"
asks of a long demo run: no ERROR or traceback in any log, every scenario label the line
decided is traceable at the hub by that label with its decision, and the review queue's
``waiting`` tab holds only parcels with no decision yet. It prints one JSON document and
exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("demo_audit")

#: What counts as an error line in a log: a logged ERROR/CRITICAL or a Python traceback.
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|^Traceback \(most recent call last\)")


def log_errors(paths: list[Path]) -> list[str]:
    """Every error line of ``paths``, as ``file:line: text``."""
    found: list[str] = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if ERROR_LINE.search(line):
                    found.append(f"{path.name}:{n}: {line.rstrip()[:300]}")
    return found


def decided_labels(workdir: Path) -> dict[str, set[str]]:
    """Each label the line reported a chute for, with every label of its parcel."""
    labels: dict[str, set[str]] = {}
    for results in sorted(workdir.glob("line-*-results.jsonl")):
        for raw in results.read_text(encoding="utf-8").splitlines():
            row = json.loads(raw)
            if row.get("chute") is not None:
                codes = {str(code) for code in row.get("labels") or []}
                labels.update(dict.fromkeys(codes, codes))
    return labels


def trace_all(client: httpx.Client, labels: dict[str, set[str]]) -> dict[str, Any]:
    """Look every label up at the hub; count those without a parcel or without a decision,
    and those filed under a code that is not one of their parcel's labels."""
    missing: list[str] = []
    undecided: list[str] = []
    wrong_code: list[str] = []
    for code, siblings in labels.items():
        resp = client.get(f"/api/v1/parcels/{code}")
        if resp.status_code == 404:
            missing.append(code)
            continue
        resp.raise_for_status()
        doc = resp.json()
        if doc.get("decision") is None:
            undecided.append(code)
        if doc.get("parcel_code") not in {None, *siblings}:
            wrong_code.append(f"{code} filed as {doc.get('parcel_code')}")
    return {
        "labels": len(labels),
        "not_found": missing[:20],
        "not_found_count": len(missing),
        "without_decision": undecided[:20],
        "without_decision_count": len(undecided),
        "filed_under_other_code": wrong_code[:20],
    }


def queue_check(client: httpx.Client) -> dict[str, Any]:
    """The waiting tab of the review queue: every entry must still wait for a verdict."""
    resp = client.get("/api/v1/review/queue", params={"view": "waiting", "limit": 200})
    resp.raise_for_status()
    doc = resp.json()
    stale = [
        f"{e['item_id']} {e['status']} outcome={e['edge_outcome']} verdict={e['verdict']}"
        for e in doc["items"]
        if e["status"] != "pending" or e["edge_outcome"] is not None or e["verdict"] is not None
    ]
    return {
        "waiting": len(doc["items"]),
        "not_waiting": stale[:20],
        "not_waiting_count": len(stale),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the three checks and print the JSON result; 0 when all pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"))
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="clearline-dev-admin")
    parser.add_argument("--logs", type=Path, nargs="*", default=[], help="More log files.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with httpx.Client(base_url=args.url, timeout=30.0) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": args.user, "password": args.password}
        )
        token.raise_for_status()
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        logs = sorted(args.workdir.glob("*.log")) + list(args.logs)
        result: dict[str, Any] = {
            "logs": [str(p) for p in logs],
            "log_errors": log_errors(logs),
            "trace": trace_all(client, decided_labels(args.workdir)),
            "review_queue": queue_check(client),
        }
    trace, queue = result["trace"], result["review_queue"]
    result["passed"] = not (
        result["log_errors"]
        or trace["not_found_count"]
        or trace["without_decision_count"]
        or trace["filed_under_other_code"]
        or queue["not_waiting_count"]
    )
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
