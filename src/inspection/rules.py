"""Loading, validating and compiling the rules file into the form the decision uses."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from contracts.yamlconf import describe, read_yaml
from inspection.rules_model import Grade, RulesFile, Tolerance

#: Hong Kong, Macao and Taiwan as ISO alpha-2/alpha-3 and CEB numeric country codes.
HK_MO_TW = frozenset({"HK", "MO", "TW", "HKG", "MAC", "TWN", "110", "121", "143"})
_GRADE_ORDER = {Grade.ADVANCED: 0, Grade.GENERAL: 1, Grade.DISHONEST: 2}


class RulesError(ValueError):
    """A rules file is invalid; the message names the file, the line and the key."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Compiled rules: everything precomputed so that a decision only looks things up."""

    source: RulesFile
    version: str
    seed: bytes
    digest: str  # sha256 of the file content, to tell edges' copies apart
    prohibited_prefixes: tuple[str, ...]
    goods_pattern: re.Pattern[str] | None
    chapter_tolerance: dict[str, Tolerance]
    grades: dict[str, Grade]
    release_statuses: frozenset[int]
    postal_release_statuses: frozenset[int]
    rates: dict[Grade, float]

    def tolerance_g(self, declared_kg: float, chapters: tuple[str, ...]) -> float:
        """Return the allowed deviation in grams: the strictest of the chapters present."""
        best = self.source.weight.abs_g, self.source.weight.rel
        allowed = max(best[0], best[1] * declared_kg * 1000.0)
        for ch in chapters:
            tol = self.chapter_tolerance.get(ch)
            if tol is not None:
                allowed = min(allowed, max(tol.abs_g, tol.rel * declared_kg * 1000.0))
        return allowed

    def grade_of(self, *codes: str) -> Grade:
        """Return the worst credit grade among the given enterprise codes."""
        found = [self.grades[c] for c in codes if c in self.grades]
        if not found:
            return self.source.enterprises.default_grade
        return max(found, key=_GRADE_ORDER.__getitem__)

    def postal_limit_cny(self, country: str) -> Decimal:
        """Personal-article value limit of a postal item sent from ``country``."""
        limits = self.source.limits
        if country.strip().upper() in HK_MO_TW:
            return limits.postal_hk_mo_tw_cny
        return limits.postal_per_item_cny

    def to_cny(self, amount: Decimal, currency: str) -> Decimal | None:
        """Convert an amount to CNY, or None when the currency has no configured rate."""
        rate = self.source.currency_to_cny.get(currency.strip().upper() or "CNY")
        return None if rate is None else amount * rate


def _keyword_pattern(keywords: list[str]) -> re.Pattern[str] | None:
    parts = []
    for kw in sorted({k.strip().lower() for k in keywords}, key=len, reverse=True):
        if kw.isascii():
            parts.append(r"(?<![a-z0-9])" + re.escape(kw) + r"(?![a-z0-9])")
        else:
            parts.append(re.escape(kw))
    return re.compile("|".join(parts)) if parts else None


def compile_rules(model: RulesFile, digest: str = "") -> RuleSet:
    """Compile a validated rules model into a RuleSet."""
    prefixes = tuple(sorted(set(model.prohibited.hs_prefixes) | set(model.restricted.hs_prefixes)))
    return RuleSet(
        source=model,
        version=model.version,
        seed=model.seed.encode("utf-8"),
        digest=digest,
        prohibited_prefixes=prefixes,
        goods_pattern=_keyword_pattern(model.prohibited.keywords + model.restricted.keywords),
        chapter_tolerance=dict(model.weight.by_hs_chapter),
        grades={k.strip().upper(): g for k, g in model.enterprises.grades.items()},
        release_statuses=frozenset(model.customs.release_statuses),
        postal_release_statuses=frozenset(model.customs.postal_release_statuses),
        rates=dict(model.random_selection.rates),
    )


def parse_rules(text: str, source: str = "rules.yaml") -> RuleSet:
    """Parse and validate rules YAML text; errors name ``source``, the line and the key."""
    data, root = read_yaml(text, source, RulesError)
    if not isinstance(data, dict) or root is None:
        raise RulesError(f"{source}:1: the rules file must be a mapping of keys")
    try:
        model = RulesFile.model_validate(data)
    except ValidationError as err:
        raise RulesError("invalid rules:\n" + "\n".join(describe(err, root, source))) from err
    return compile_rules(model, hashlib.sha256(text.encode("utf-8")).hexdigest())


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load rules from ``path``, or the packaged default rules when ``path`` is None."""
    if path is None:
        text = resources.files("inspection").joinpath("data/rules.yaml").read_text("utf-8")
        return parse_rules(text, "rules.yaml (packaged default)")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise RulesError(f"{p}: cannot read rules file: {err.strerror}") from err
    return parse_rules(text, str(p))
