"""Where the site simulation's parcels come from: a scenario's ``parcels.jsonl``, or random."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from pydantic import ValidationError

from simulators.scenario.generate import PARCELS_FILE
from simulators.scenario.model import ParcelTruth
from simulators.xray.contents import ParcelContents, random_contents

log = logging.getLogger(__name__)


class FeedError(ValueError):
    """A scenario's parcels cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class SiteParcel:
    """One parcel to induct: its induction order, printed labels, true weight and contents."""

    seq: int
    labels: tuple[str, ...]
    weight_kg: float
    contents: ParcelContents


def read_parcels(path: Path) -> Iterator[SiteParcel]:
    """Yield the parcels of a ``parcels.jsonl`` file one by one (the file is never read whole).

    Raise FeedError naming the file and line for a line that is not a ``ParcelTruth``.
    """
    handle: IO[str]
    try:
        handle = path.open(encoding="utf-8")
    except OSError as err:
        raise FeedError(f"{path}: cannot read: {err.strerror}") from None
    with handle:
        for lineno, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                truth = ParcelTruth.model_validate_json(text)
            except ValidationError as err:
                first = err.errors()[0]
                key = ".".join(str(x) for x in first["loc"]) or "(line)"
                raise FeedError(f"{path}:{lineno}: {key}: {first['msg']}") from None
            yield SiteParcel(truth.seq, truth.labels, truth.weight_kg, truth.contents)


def random_parcels(
    seed: int, weight_kg: tuple[float, float], threat_rate: float = 0.1
) -> Iterator[SiteParcel]:
    """Yield endless generated parcels: one ``CL``-label each, a weight in ``weight_kg`` (kg)."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng([seed, 11])
    seq = 0
    while True:
        seq += 1
        weight = round(rng.uniform(*weight_kg), 3)
        contents = random_contents(np_rng, threat_rate)
        yield SiteParcel(seq, (f"CL{seq:010d}",), weight, contents)


class ParcelFeed:
    """Hands out parcels in order and knows, one parcel ahead, whether another one follows."""

    def __init__(self, parcels: Iterator[SiteParcel], source: str) -> None:
        """Wrap ``parcels``; ``source`` names them in logs (a path or ``random``)."""
        self.source = source
        self._it = parcels
        self._next: SiteParcel | None = None
        self.handed_out = 0
        self.error: FeedError | None = None
        self._advance()

    @classmethod
    def from_scenario(cls, folder: Path) -> ParcelFeed:
        """Feed the parcels of the scenario in ``folder`` (its ``parcels.jsonl``)."""
        path = folder / PARCELS_FILE
        if not path.is_file():
            raise FeedError(f"{folder}: no {PARCELS_FILE} (not a scenario folder)")
        return cls(read_parcels(path), str(path))

    def _advance(self) -> None:
        """Read the next parcel ahead; a bad line ends the feed and is kept in ``error``."""
        try:
            self._next = next(self._it, None)
        except FeedError as err:
            log.error("parcel feed stopped: %s", err)
            self.error = err
            self._next = None

    @property
    def more(self) -> bool:
        """Return True while another parcel is waiting."""
        return self._next is not None

    def take(self) -> SiteParcel:
        """Return the next parcel; FeedError when none is left."""
        parcel = self._next
        if parcel is None:
            raise FeedError(f"{self.source}: no parcel left after {self.handed_out}")
        self.handed_out += 1
        self._advance()
        return parcel
