"""Delta sync from the hub: declarations, customs statuses and rules into the edge's cache."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from contracts.backoff import Backoff
from contracts.messages import Verdict
from edge.cache import DeclarationCache
from edge.snapshot import split_lines
from inspection.codec import declaration_from_dict
from inspection.model import Declaration, DocKind
from inspection.rules import RulesError, RuleSet, parse_rules

log = logging.getLogger(__name__)

#: Longest wait between polls while the hub is unreachable, in sync intervals.
RETRY_SPREAD = 4
#: How long a snapshot may go quiet (a large hub under load starts slowly), connect apart.
SNAPSHOT_TIMEOUT = httpx.Timeout(30.0, read=300.0)
#: Changes waiting at the hub from which a restarted edge takes a snapshot instead of pages.
SNAPSHOT_BEHIND = 200_000


@dataclass(frozen=True, slots=True)
class SyncApplied:
    """One sync page for the engine: new or changed declarations, statuses, maybe rules."""

    declarations: tuple[Declaration, ...]
    statuses: tuple[tuple[DocKind, str, int], ...]
    rules: RuleSet | None = None
    verdicts: tuple[Verdict, ...] = ()  # inspector verdicts (a HOLD survives a lost disk)
    verdicts_cursor: str | None = None  # keep once the verdicts are applied


def parse_page(body: dict[str, Any]) -> tuple[list[Declaration], list[tuple[DocKind, str, int]]]:
    """Turn a hub sync page into declarations and (kind, key, status) triples."""
    decls: list[Declaration] = []
    statuses: list[tuple[DocKind, str, int]] = []
    for item in body.get("declarations", []):
        raw = {k: v for k, v in item["declaration"].items() if v is not None}
        raw["lines"] = [
            {k: v for k, v in ln.items() if v is not None} for ln in raw.get("lines", [])
        ]
        decl = declaration_from_dict(raw)
        decls.append(decl)
        if item.get("customs_status") is not None:
            statuses.append((decl.kind, decl.business_key, int(item["customs_status"])))
    return decls, statuses


class HubSync:
    """A thread that pulls sync pages until caught up, then waits for a notice or a timer."""

    def __init__(
        self,
        hub_url: str,
        api_key: str,
        cache: DeclarationCache,
        submit: Callable[[object], None],
        stop: threading.Event,
        *,
        page_size: int = 2000,
        interval_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        verdicts_from: Callable[[], str] | None = None,
        snapshot: bool = True,
    ) -> None:
        """Pull into ``cache``, hand changes to ``submit``; with ``verdicts_from`` (the cursor
        the engine kept), inspector verdicts come down too. With ``snapshot``, an edge with
        no cursor yet starts from the hub's snapshot (one stream) instead of every page."""
        self._client = httpx.Client(
            base_url=hub_url.rstrip("/"),
            headers={"X-API-Key": api_key},
            timeout=30.0,
            transport=transport,
        )
        self._cache, self._submit, self._stop = cache, submit, stop
        self._page_size, self._interval_s = page_size, interval_s
        self._verdicts_from = verdicts_from
        self._snapshot_first = snapshot
        self._asked_backlog = False
        self._wake = threading.Event()
        self.cursor = cache.meta("cursor") or ""
        self._digest = ""
        self.synced = 0
        #: phases of the last snapshot, in seconds (rows, indexes, commit)
        self.snapshot_timings: dict[str, float] = {}
        self.failures = 0
        self._down = False
        #: set once a pull found nothing more waiting at the hub
        self.caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-sync", daemon=True)

    def start(self) -> None:
        """Start pulling."""
        self._thread.start()

    def poke(self) -> None:
        """Pull now (the hub announced new data)."""
        self._wake.set()

    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def join(self, timeout_s: float = 10.0) -> None:
        """Wait for the thread after the stop event was set."""
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        self._client.close()

    def pull_once(self) -> bool:
        """Fetch and apply one page (or, with no cursor yet, the hub's snapshot); return
        True when more pages are waiting."""
        if not self.cursor and self._snapshot_first:
            return self.pull_snapshot()
        params = self._params()
        ask_backlog = self._snapshot_first and not self._asked_backlog
        if ask_backlog:  # once a process: is this edge so far behind a snapshot is quicker?
            params["backlog"] = SNAPSHOT_BEHIND
        resp = self._client.get("/api/v1/sync/declarations", params=params)
        resp.raise_for_status()
        body = resp.json()
        self._asked_backlog = True
        if ask_backlog and int(body.get("behind") or 0) >= SNAPSHOT_BEHIND:
            log.info("hub sync: %s or more changes behind; taking a snapshot", SNAPSHOT_BEHIND)
            return self.pull_snapshot()
        decls, statuses = parse_page(body)
        rules, rules_text = self._rules(body.get("rules"))
        self._cache.store(decls, statuses, body["next_cursor"], rules_text)
        self.cursor = body["next_cursor"]
        self.synced += len(decls)
        verdicts = tuple(Verdict.model_validate(v) for v in body.get("verdicts") or [])
        after = body.get("next_verdicts") if self._verdicts_from is not None else None
        if decls or statuses or rules is not None or verdicts:
            self._submit(SyncApplied(tuple(decls), tuple(statuses), rules, verdicts, after))
        return bool(body.get("more"))

    def pull_snapshot(self) -> bool:
        """Replace the local copy by the hub's snapshot (``edge.snapshot``) and continue from
        its cursor, with the inspector verdicts; return True (the delta pages come next).

        A hub without snapshots (404) is synced page by page instead."""
        params = {"rules_digest": self._digest}
        if self._verdicts_from is not None:
            params["verdicts_after"] = self._verdicts_from()
        with self._client.stream(
            "GET", "/api/v1/sync/snapshot", params=params, timeout=SNAPSHOT_TIMEOUT
        ) as resp:
            if resp.status_code == 404:
                log.info("hub sync: the hub sends no snapshot; syncing page by page")
                self._snapshot_first = False
                return True
            resp.raise_for_status()
            loaded = self._cache.load_snapshot(split_lines(resp.iter_bytes(1 << 20)))
        rules, rules_text = self._rules(loaded.rules)
        if rules_text is not None:
            self._cache.store((), (), None, rules_text)
        self.cursor = loaded.cursor
        self.synced += loaded.count
        self.snapshot_timings = loaded.timings
        verdicts = tuple(Verdict.model_validate(v) for v in loaded.header.get("verdicts") or [])
        after = loaded.header.get("next_verdicts") if self._verdicts_from is not None else None
        self._submit(SyncApplied((), (), rules, verdicts, after))  # readers forget too
        return True

    def _rules(self, meta: dict[str, Any] | None) -> tuple[RuleSet | None, str | None]:
        """Return the rules a sync answer carries (None, None: unchanged or unusable)."""
        if not meta or not meta.get("text"):
            return None, None
        try:
            rules = parse_rules(meta["text"], f"hub rules {meta.get('version')}")
        except RulesError as err:
            log.error("hub sent rules the edge cannot use; keeping the old ones: %s", err)
            return None, None
        self._digest = meta.get("digest", "")
        return rules, str(meta["text"])

    def _params(self) -> dict[str, str | int]:
        """Return the query of one pull."""
        params: dict[str, str | int] = {
            "cursor": self.cursor, "limit": self._page_size, "rules_digest": self._digest,
        }  # fmt: skip
        if self._verdicts_from is not None:
            params["verdicts_after"] = self._verdicts_from()
        return params

    def _run(self) -> None:
        # while the hub is away, polls space out to RETRY_SPREAD x the interval; a notice
        # from the hub still wakes the loop at once
        first_s = max(self._interval_s, 0.001)
        backoff = Backoff(first_s, first_s * RETRY_SPREAD)
        while not self._stop.is_set():
            wait_s = self._interval_s
            try:
                while self.pull_once() and not self._stop.is_set():
                    pass
                self.caught_up.set()
                if self._down:
                    log.info("hub sync: reachable again at cursor %s", self.cursor)
                    self._down = False
                backoff.reset()
            except (httpx.HTTPError, ValueError, KeyError) as err:
                self.failures += 1
                wait_s = backoff.next_delay()
                if not self._down:
                    log.warning("hub sync: unavailable (%s); deciding from the local copy", err)
                    self._down = True
            self._wake.wait(wait_s)
            self._wake.clear()
