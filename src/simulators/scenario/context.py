"""Shared state of one scenario run: seeded randomness, numbering, codes, weights, rule limits."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from inspection.checks import random_draw
from inspection.identity import normalise, s10_check_digit
from inspection.rules import RuleSet
from simulators.scenario.model import Case, ScenarioError

#: Statuses the scenario files for held and returned cases; none may be a release status.
HELD_STATUSES = (100, 399, 500, 501, 599, 600, 700)
#: Customs statuses whose transactions leave the buyer's annual total (rejected, returned).
EXCLUDED_FROM_LEDGER = (100, 700)
#: Tries at finding a code whose random-selection draw is on the wanted side of the rate.
CODE_TRIES = 1000
_S10_SERVICES = ("RR", "RB", "EE", "CP", "LX", "UA")
_S10_COUNTRIES = ("US", "DE", "JP", "GB", "FR", "AU", "KR", "NL")


class Context:
    """Seeded randomness, document and S10 numbering, code choice, weights and rule limits."""

    def __init__(self, rules: RuleSet, seed: int) -> None:
        """Prepare a run with ``rules`` from ``seed``; ``ScenarioError`` on unusable rules."""
        self.rules = rules
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed & 0xFFFF_FFFF_FFFF_FFFF)
        self.seq = 0  # seq of the parcel being built, set by the generator before each build
        self._doc = 0
        self._s10 = self.rng.randrange(10_000_000, 60_000_000)
        self._groups = 0
        self.release_status = _release_status(rules.release_statuses, "customs.release_statuses")
        self.postal_release_status = _release_status(
            rules.postal_release_statuses, "customs.postal_release_statuses"
        )
        for status in HELD_STATUSES:
            if status in rules.release_statuses or status in rules.postal_release_statuses:
                raise ScenarioError(
                    f"rules list {status} as a release status; scenarios use it as a hold"
                )
        rate = rules.to_cny(Decimal(1), "142")
        if rate is None or rate <= 0:
            raise ScenarioError(
                "rules have no positive rate for currency 142 (CNY) in currency_to_cny"
            )
        self.cny_rate = rate
        limits = rules.source.limits
        self.per_tx_cny = limits.per_transaction_cny
        self.annual_cny = limits.annual_per_buyer_cny
        self.postal_limit_cny = limits.postal_per_item_cny
        self.postal_hk_mo_tw_cny = limits.postal_hk_mo_tw_cny
        self.amount_tolerance = rules.source.three_doc.amount_tolerance_cny
        self.tax_tolerance = rules.source.tax.tolerance_cny
        self.annual_group_size = self._annual_group_size()

    def postal_limit_for(self, country: str) -> Decimal:
        """Personal-article limit of a postal item from ``country`` (lower from HK, MO, TW)."""
        if country.upper() in ("HK", "MO", "TW"):
            return self.postal_hk_mo_tw_cny
        return self.postal_limit_cny

    # --- numbering -------------------------------------------------------------------------

    def next_doc(self) -> int:
        """Return the next document-set number (it also orders declaration times)."""
        self._doc += 1
        return self._doc

    def next_group(self) -> int:
        """Return the next buyer-group number."""
        self._groups += 1
        return self._groups

    # --- random selection and codes ---------------------------------------------------------

    def selected(self, code: str, ebc_code: str, agent_code: str) -> bool:
        """Return True when random selection picks ``code`` at its enterprises' grade rate."""
        grade = self.rules.grade_of(ebc_code, agent_code)
        rate = self.rules.rates.get(grade, 0.0)
        return random_draw(self.rules.seed, normalise(code)) < rate

    def pick_code(
        self, make: Callable[[int], str], ebc_code: str, agent_code: str, want: bool
    ) -> tuple[str, bool]:
        """Return ``make(salt)`` for the first salt whose selection is ``want`` (else the last).

        The second value is whether random selection picks the returned code.
        """
        code = make(0)
        for salt in range(CODE_TRIES):
            code = make(salt)
            hit = self.selected(code, ebc_code, agent_code)
            if hit is want:
                return code, hit
        return code, self.selected(code, ebc_code, agent_code)

    def s10(self, country: str = "", want: bool = False) -> tuple[str, bool]:
        """Return a fresh valid S10 id of ``country`` (random when empty) and its selection."""
        service = self.rng.choice(_S10_SERVICES)
        country = country or self.rng.choice(_S10_COUNTRIES)

        def make(_salt: int) -> str:
            self._s10 = self._s10 + 1 if self._s10 < 99_999_999 else 10_000_000
            serial = f"{self._s10:08d}"
            return f"{service}{serial}{s10_check_digit(serial)}{country}"

        return self.pick_code(make, "", "", want)

    @staticmethod
    def damaged(s10_id: str) -> str:
        """Return ``s10_id`` with a wrong check digit (as a smudged label reads)."""
        digit = (int(s10_id[10]) + 1 + int(s10_id[9]) % 8) % 10
        return f"{s10_id[:10]}{digit}{s10_id[11:]}"

    def best_rate(self) -> float:
        """Return the highest random-selection rate of any grade in use."""
        grades = {self.rules.source.enterprises.default_grade, *self.rules.grades.values()}
        return max((self.rules.rates.get(g, 0.0) for g in grades), default=0.0)

    def enterprise_for(self, want_selected: bool) -> str:
        """Return an ebcCode whose grade suits ``want_selected`` (highest rate when wanted)."""
        default = "3301960002"
        if not want_selected:
            return default
        rates = {c: self.rules.rates.get(g, 0.0) for c, g in sorted(self.rules.grades.items())}
        rates.setdefault(default, self.rules.rates.get(self.rules.grade_of(default), 0.0))
        return max(sorted(rates), key=lambda c: rates[c])

    # --- weights ----------------------------------------------------------------------------

    def tolerance_g(self, declared_kg: Decimal, chapters: tuple[str, ...]) -> float:
        """Return the allowed weight deviation in grams: the strictest chapter present."""
        w = self.rules.source.weight
        grams = float(declared_kg) * 1000.0
        allowed = max(w.abs_g, w.rel * grams)
        for chapter in chapters:
            tol = w.by_hs_chapter.get(chapter)
            if tol is not None:
                allowed = min(allowed, max(tol.abs_g, tol.rel * grams))
        return allowed

    def true_weight(self, declared_kg: Decimal, chapters: tuple[str, ...], inside: bool) -> float:
        """Return a true weight in kg: within half the tolerance, or well outside it."""
        allowed = self.tolerance_g(declared_kg, chapters)
        if inside:
            half = int(allowed // 2)
            off = self.rng.randint(-half, half) if half > 0 else 0
            if declared_kg * 1000 + off <= 0:
                off = 0
        else:
            off = int(allowed * self.rng.uniform(1.5, 3.0)) + 20
            if self.rng.random() < 0.5 and declared_kg * 1000 - off >= 10:
                off = -off
        return float(declared_kg + Decimal(off) / 1000)

    # --- money and buyers ---------------------------------------------------------------------

    def cny(self, amount: Decimal, currency: str) -> Decimal:
        """Return ``amount`` in CNY at the rules' rate; raises ``ScenarioError`` without one."""
        value = self.rules.to_cny(amount, currency)
        if value is None:
            raise ScenarioError(f"rules have no rate for currency {currency}")
        return value

    def group_buyer(self) -> tuple[str, str]:
        """Return a buyer id and name that no other parcel of the scenario uses."""
        g = self.next_group()
        region = 710000 + g % 280000
        year = 1950 + (g // 280000) % 50
        return f"{region:06d}{year}0101{g % 1000:03d}X", f"群{g}号买家"

    def _annual_group_size(self) -> int:
        """Orders in an annual-limit group (one may be excluded); 0 when the rules forbid it."""
        if self.per_tx_cny <= 0 or self.annual_cny <= 0:
            return 0
        size = int(self.annual_cny / (self.per_tx_cny * Decimal("0.88"))) + 2
        return size if size <= 40 else 0

    def impossible(self) -> dict[Case, str]:
        """Return the cases these rules make impossible to construct, with why."""
        out: dict[Case, str] = {}
        if self.best_rate() <= 0.0:
            out[Case.RANDOM_SELECTION] = "no credit grade has a positive random-selection rate"
        if not self.rules.prohibited_prefixes:
            out[Case.PROHIBITED_HS] = "the rules list no prohibited or restricted HS prefix"
        if not self.keywords(ascii_only=False):
            out[Case.PROHIBITED_KEYWORD_ZH] = "the rules list no Chinese keyword"
        if not self.keywords(ascii_only=True):
            out[Case.PROHIBITED_KEYWORD_EN] = "the rules list no English keyword"
        if self.annual_group_size == 0:
            out[Case.ANNUAL_LIMIT] = "the limits need more than 40 orders to cross the annual total"
        return out

    def keywords(self, ascii_only: bool) -> list[str]:
        """Return the rules' keywords (prohibited, then restricted), English or Chinese ones."""
        src = self.rules.source
        words = [*src.prohibited.keywords, *src.restricted.keywords]
        return [w.strip() for w in words if w.strip() and w.strip().isascii() is ascii_only]


def _release_status(statuses: frozenset[int], key: str) -> int:
    if not statuses:
        raise ScenarioError(f"rules list no release status in {key}; nothing could be released")
    return 800 if 800 in statuses else min(statuses)
