"""Walk a running ``clearline demo`` in headless Chromium as each of its people, again and again.

Usage (the demo's stdout saved to a file, so its banner with the passwords can be read)::

    .venv/bin/clearline demo --parcels 3000 > demo.out 2> demo.err &
    .venv/bin/python scripts/demo_walk.py --banner demo.out --minutes 10

Each round logs in as every account of the banner (Chinese, then English every other round),
opens the role's home and every page its menu links to, traces a few labels the line has
decided, and as the inspector gives one verdict by keyboard when an image waits. It counts
pages that answered 5xx, JavaScript errors and failed requests, and exits 1 if any occurred.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("demo_walk")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: A banner line naming one login: role, user, password.
ACCOUNT = re.compile(r"^\s+(operator|inspector|supervisor|filer|customs|admin)\s+(\S+)\s+(\S+)")
URL = re.compile(r"(http://127\.0\.0\.1:\d+)/")


@dataclass
class Tally:
    """What the walk saw."""

    pages: int = 0
    verdicts: int = 0
    traces: int = 0
    problems: list[str] = field(default_factory=list)


def read_banner(path: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """The hub's URL and the (role, user, password) logins the demo printed."""
    text = path.read_text(encoding="utf-8")
    url = URL.search(text)
    if url is None:
        raise SystemExit(f"{path}: no hub URL in the demo's banner")
    accounts = {
        m.group(1): (m.group(1), m.group(2), m.group(3))
        for m in map(ACCOUNT.match, text.splitlines())
        if m
    }
    return url.group(1), list(accounts.values())


def labels(workdir: Path) -> list[str]:
    """Labels of parcels the line has finished."""
    out: list[str] = []
    for path in workdir.glob("line-*-results.jsonl"):
        for raw in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(raw)
            if row.get("chute") is not None:
                out += row.get("labels") or []
    return out


def watch(page: Any, tally: Tally, who: str) -> None:
    """Count server errors, failed requests and script errors on ``page``."""

    def response(resp: Any) -> None:
        if resp.status >= 400:
            tally.problems.append(f"{who}: {resp.status} {resp.request.method} {resp.url}")

    page.on("response", response)
    page.on("pageerror", lambda err: tally.problems.append(f"{who}: script error {err}"))
    page.on(
        "console",
        lambda msg: (
            tally.problems.append(f"{who}: console {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )


def visit(page: Any, url: str, tally: Tally) -> None:
    """Open ``url`` and wait until the network is quiet."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    tally.pages += 1


def walk_one(
    browser: Any,
    base: str,
    account: tuple[str, str, str],
    lang: str,
    tally: Tally,
    codes: list[str],
) -> None:
    """Log in as one person and walk the home page, every menu link and a few traces."""
    role, user, password = account
    ctx = browser.new_context(
        viewport={"width": 1366, "height": 860}, locale=lang, accept_downloads=True
    )
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    watch(page, tally, f"{user}/{lang}")
    try:
        visit(page, f"{base}/login", tally)
        page.fill("#username", user)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        home = page.url
        links = page.eval_on_selector_all(
            "nav a[href^='/']", "els => els.map(e => e.getAttribute('href'))"
        )
        for href in dict.fromkeys(links):
            if "logout" in href:
                continue
            visit(page, base + href, tally)
        if role in ("operator", "supervisor", "inspector") and codes:
            for code in random.sample(codes, min(3, len(codes))):
                visit(page, f"{base}/trace/{code}", tally)
                tally.traces += 1
        if role == "inspector":
            visit(page, f"{base}/review", tally)
            if page.locator("#queue li[data-image-id]").count():
                page.keyboard.press("c")
                page.wait_for_selector("#toast", state="visible")
                tally.verdicts += 1
        visit(page, home, tally)
    except Exception as err:  # a walk step that failed is a finding, not a crash
        tally.problems.append(f"{user}/{lang}: {type(err).__name__}: {str(err)[:200]}")
    finally:
        ctx.close()


def main(argv: list[str] | None = None) -> int:
    """Walk for ``--minutes``; print the tally as JSON; 0 when nothing went wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banner", type=Path, required=True, help="The demo's saved stdout.")
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--pause", type=float, default=20.0, help="Seconds between rounds.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from playwright.sync_api import sync_playwright

    base, accounts = read_banner(args.banner)
    tally = Tally()
    end = time.monotonic() + args.minutes * 60
    rounds = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            while time.monotonic() < end:
                lang = "en-US" if rounds % 2 else "zh-CN"
                codes = labels(args.workdir)
                for account in accounts:
                    walk_one(browser, base, account, lang, tally, codes)
                rounds += 1
                log.info(
                    "round %d: %d pages, %d problems", rounds, tally.pages, len(tally.problems)
                )
                time.sleep(max(0.0, min(args.pause, end - time.monotonic())))
        finally:
            browser.close()
    result = {
        "rounds": rounds,
        "pages": tally.pages,
        "traces": tally.traces,
        "verdicts": tally.verdicts,
        "problems": tally.problems[:50],
        "problem_count": len(tally.problems),
    }
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 1 if tally.problems else 0


if __name__ == "__main__":
    sys.exit(main())
