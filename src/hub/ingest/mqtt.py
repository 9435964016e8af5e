"""The hub's MQTT side: edge events in (spooled, batched, stored once), notices and verdicts out.

Guarantee: a payload the broker delivers is written to the durable spool before it is
acknowledged (the link acknowledges QoS 1 by hand, only after the handler returned; a spool
that cannot write leaves the message unacknowledged and the broker delivers it again after a
reconnect), and leaves the spool only after the database has stored it, refused it as
invalid, or found it already held. Events naming another site are refused. A database
outage, a hub restart or a crash therefore loses nothing that reached the hub; redeliveries
are deduplicated by ``event_id``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from pydantic import Field
from sqlalchemy.engine import Engine

from contracts.backoff import Backoff
from contracts.clock import Clock, SystemClock
from contracts.config import ConfigModel
from contracts.events import MAX_PAYLOAD_BYTES
from contracts.messages import SyncNotice, Verdict
from contracts.topics import (
    TopicError,
    check_segment,
    edge_event_filter,
    parse_edge_event_topic,
    sync_notice_topic,
    verdict_topic,
)
from devices.mqtt_link import DeviceError, LinkSettings, Message, MqttLink
from hub.db.engine import StoreError
from hub.db.jobs import run_exclusive
from hub.ingest.events import IngestReport, RawEvent, ingest
from hub.ingest.spool import EventSpool, claim_slot, spool_slot
from hub.ingest.trust import EventTrust, VerdictSigner

logger = logging.getLogger(__name__)


class SpoolRefusedError(StoreError):
    """An event could not be spooled; its message stays unacknowledged."""


class IngestSettings(ConfigModel):
    """How the MQTT ingest batches and retries."""

    batch_size: int = Field(500, ge=1, le=10_000, description="Most events per database batch.")
    linger_ms: int = Field(
        20, ge=0, le=5_000, description="Wait for more events before a short batch, ms."
    )
    retry_min_s: float = Field(0.2, gt=0, description="First retry delay after a DB error, s.")
    retry_max_s: float = Field(10.0, gt=0, description="Longest retry delay after DB errors, s.")


class MqttIngest:
    """Subscribes to ``clearline/{site}/edge/+/event`` (QoS 1) and stores every event once.

    The caller owns ``link`` (subscriptions survive reconnects). On a persistent session,
    start the link after ``start()``: the broker sends the queued events at once on connect.
    One worker thread moves spooled payloads into the database in batches.
    """

    def __init__(
        self,
        engine: Engine,
        link: MqttLink,
        spool: EventSpool,
        site: str,
        *,
        settings: IngestSettings | None = None,
        clock: Clock | None = None,
        on_connected: Callable[[], None] | None = None,
        trust: EventTrust | None = None,
        signer: VerdictSigner | None = None,
        share_group: str = "",
    ) -> None:
        """Prepare the ingest; ``on_connected`` runs on the worker after each (re)connect.

        With ``trust``, only events signed by their enrolled edge are stored; with ``signer``,
        every verdict is signed before it is published. With ``share_group``, the events are
        subscribed as ``$share/{group}/...``: the broker hands each to one member only.
        """
        self.trust = trust
        self.signer = signer
        self.untrusted = 0  # events refused at the trust boundary (never stored)
        self.engine = engine
        self.link = link
        self.spool = spool
        self.site = site
        self.settings = settings or IngestSettings()
        self.clock = clock or SystemClock()
        self.topic_filter = edge_event_filter(site)
        if share_group:
            self.topic_filter = f"$share/{check_segment(share_group, 'share group')}/" + (
                self.topic_filter
            )
        self._on_connected = on_connected
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reconnected = threading.Event()
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self.stored = 0
        self.duplicates = 0
        self.rejected = 0
        self.dropped = 0  # messages refused before spooling (bad topic, oversized)
        self.db_failures = 0
        self.spool_failures = 0  # messages left unacknowledged because the spool refused them
        self.owns_link = False  # stop() also stops the link and closes the spool

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> MqttIngest:
        """Subscribe and start the worker (which first stores what an earlier run spooled)."""
        if self._thread is not None:
            raise StoreError("MQTT ingest is already running")
        self._stop.clear()
        self.link.add_state_listener(self._on_link_state)
        self._thread = threading.Thread(
            target=self._run, name=f"hub-ingest-{self.site}", daemon=True
        )
        self._thread.start()
        self.link.subscribe(self.topic_filter, self._on_message, qos=1)
        if self.link.connected:
            self._reconnected.set()
        self._wake.set()
        logger.info("hub ingest subscribed to %s", self.topic_filter)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Unsubscribe, store what can be stored within ``timeout_s`` s, join the worker."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        # an owned link keeps its persistent session's subscription, except in a share group:
        # a process stopped for good must leave the group, or the broker keeps queueing its share
        if not self.owns_link or self.topic_filter.startswith("$share/"):
            self.link.unsubscribe(self.topic_filter)
        self._stop.set()
        self._wake.set()
        thread.join(timeout_s)
        if thread.is_alive():
            logger.error("hub ingest worker did not stop within %.1f s", timeout_s)
        logger.info("hub ingest stopped; %s events left in the spool", len(self.spool))
        if self.owns_link:
            self.link.stop()
            self.spool.close()

    def __enter__(self) -> MqttIngest:
        """Start the ingest."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the ingest."""
        self.stop()

    # --- outgoing -----------------------------------------------------------------------------

    def notify_sync(self, cursor: str) -> SyncNotice:
        """Publish a SyncNotice with the hub's newest sync ``cursor`` (QoS 1); return it.

        Raises DeviceUnavailable when the broker is not reachable or does not acknowledge.
        """
        notice = SyncNotice(site=self.site, cursor=cursor, at=self.clock.now())
        self.link.publish(sync_notice_topic(self.site), notice.model_dump_json().encode(), qos=1)
        return notice

    def publish_verdict(self, verdict: Verdict) -> None:
        """Publish an inspector verdict to every edge of the site (QoS 1).

        Raises DeviceUnavailable when the broker is not reachable or does not acknowledge.
        """
        if self.signer is not None:
            verdict = self.signer.sign(verdict, self.clock.now())
        self.link.publish(verdict_topic(verdict.site), verdict.model_dump_json().encode(), qos=1)

    # --- counters -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Events stored, duplicates, rejected, dropped, DB failures and spooled right now."""
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "db_failures": self.db_failures,
            "untrusted": self.untrusted,
            "spool_failures": self.spool_failures,
            "spooled": len(self.spool),
        }

    def wait_for(self, predicate: Callable[[MqttIngest], bool], timeout_s: float) -> bool:
        """Block until ``predicate(self)`` holds after a batch (or now); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout_s)

    # --- network thread -----------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        """Spool one event payload (committed before paho acknowledges it)."""
        try:
            parse_edge_event_topic(message.topic)
        except TopicError as err:
            self.dropped += 1
            logger.warning("message on %s dropped: %s", message.topic, err)
            return
        if len(message.payload) > MAX_PAYLOAD_BYTES:
            self.dropped += 1
            logger.warning(
                "event of %s bytes on %s dropped: over the %s byte limit",
                len(message.payload),
                message.topic,
                MAX_PAYLOAD_BYTES,
            )
            return
        try:
            self.spool.put(message.topic, message.payload)
        except StoreError as err:
            self.spool_failures += 1
            # raised, so the link does not acknowledge it: the broker (and the edge's HTTP
            # confirmation) will offer it again once the spool can write
            raise SpoolRefusedError(f"event on {message.topic} not spooled: {err}") from err
        self._wake.set()

    def _on_link_state(self, up: bool) -> None:
        """Remember a (re)connect so the worker runs ``on_connected`` off the network thread."""
        if up:
            self._reconnected.set()
            self._wake.set()

    # --- worker -------------------------------------------------------------------------------

    def _run(self) -> None:
        """Worker: move spooled payloads into the database until stopped, retrying on errors."""
        backoff = Backoff(
            self.settings.retry_min_s, max(self.settings.retry_min_s, self.settings.retry_max_s)
        )
        outage = False
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            if self._reconnected.is_set():
                self._reconnected.clear()
                self._run_hook()
            if self.settings.linger_ms and not self._stop.is_set():
                self._stop.wait(self.settings.linger_ms / 1000.0)
            while True:
                try:
                    moved = self._move_batch()
                except (StoreError, DeviceError) as err:
                    self.db_failures += 1
                    if not outage:
                        logger.error("hub database unavailable, events stay spooled: %s", err)
                    outage = True
                    # the next try opens fresh connections: none left read-only or broken
                    if self.engine.url.database not in (None, "", ":memory:"):  # keep a memory DB
                        self.engine.dispose()
                    if self._stop.wait(backoff.next_delay()):
                        return
                    continue
                if outage:
                    logger.info("hub database reachable again; spooled events stored")
                    outage = False
                backoff.reset()
                if moved < self.settings.batch_size:
                    break
            if self._stop.is_set():
                return

    def _run_hook(self) -> None:
        """Run the on-connected hook, logging its failure."""
        if self._on_connected is None:
            return
        try:
            self._on_connected()
        except Exception:
            logger.exception("hub ingest on-connected task failed")

    def _move_batch(self) -> int:
        """Store one batch from the spool; return how many entries it took."""
        entries = self.spool.take(self.settings.batch_size)
        if not entries:
            with self._cond:
                self._cond.notify_all()
            return 0
        origins = []
        for _, topic, _ in entries:
            where = parse_edge_event_topic(topic)
            origins.append((where.site, where.edge_id))
        raws: list[RawEvent] = [payload for _, _, payload in entries]
        report = ingest(
            self.engine, raws, clock=self.clock, site=self.site, origins=origins, trust=self.trust
        )
        self.spool.ack(entries[-1][0])
        self._count(report)
        return len(entries)

    def _count(self, report: IngestReport) -> None:
        """Add a batch's outcome to the counters and wake waiters."""
        with self._cond:
            self.stored += report.stored
            self.duplicates += report.duplicates
            self.rejected += len(report.rejected)
            self.untrusted += len(report.alarms)
            self._cond.notify_all()


def start_hub_mqtt(
    engine: Engine,
    *,
    url: str,
    site: str,
    spool_path: Path,
    clock: Clock | None = None,
    settings: IngestSettings | None = None,
    trust: EventTrust | None = None,
    signer: VerdictSigner | None = None,
    share_group: str = "",
) -> MqttIngest:
    """Start the hub's whole MQTT side: its link, the event ingest and verdict catch-up.

    After every (re)connect, verdicts recorded while the broker was away are published.
    ``stop()`` on the result stops everything. Raises StoreError if the spool cannot open.
    With ``share_group`` (shared ingest), the process takes the first free spool slot in
    ``spool_path``'s folder and a client id naming that slot, so a restarted process resumes
    both the dead one's spool and its broker session (unacknowledged events come again).
    """
    from hub.services.verdicts import publish_pending

    the_clock = clock or SystemClock()
    if share_group:
        spool = claim_slot(spool_path.parent)
        client_id = f"clearline-hub-{site}-{share_group}-{spool_slot(spool)}"
    else:
        spool = EventSpool(spool_path)
        client_id = f"clearline-hub-{site}"
    link = MqttLink(
        LinkSettings(
            url=url,
            site=site,
            kind="hub",
            device_id="hub",
            client_id=client_id,
            clean_session=False,
            manual_ack=True,
        )
    )
    holder: list[MqttIngest] = []

    def catch_up() -> None:
        # one hub process at a time sends the backlog; the others' (re)connects skip it
        def send() -> int:
            return publish_pending(engine, holder[0], the_clock)

        _, sent = run_exclusive(engine, f"verdict-catch-up:{site}", send)
        if sent:
            logger.info("%s pending verdicts sent to the edges", sent)

    ingest = MqttIngest(
        engine,
        link,
        spool,
        site,
        settings=settings,
        clock=the_clock,
        on_connected=catch_up,
        trust=trust,
        signer=signer,
        share_group=share_group,
    )
    holder.append(ingest)
    ingest.owns_link = True
    # subscribe before connecting: the broker sends a persistent session's queued events right
    # after it accepts the connection, and a message no handler takes would be lost
    ingest.start()
    link.start()
    return ingest
