"""Rule sets: the current version, every stored version, and audited changes."""

from __future__ import annotations

import logging
from datetime import datetime
from importlib import resources
from pathlib import Path

from sqlmodel import Session, col, func, select

from hub.db.rules_models import RuleVersion
from hub.services import audit, rules_edit
from hub.services.auth import Principal
from hub.services.errors import Conflict, Invalid, NotFound
from inspection.rules import RulesError, RuleSet, parse_rules

log = logging.getLogger(__name__)

#: Longest rules YAML accepted, in characters.
MAX_RULES_CHARS = 1_000_000


def current(session: Session) -> RuleVersion:
    """Return the newest stored rule set; raise NotFound when none is stored."""
    row = session.exec(
        select(RuleVersion).order_by(col(RuleVersion.number).desc()).limit(1)
    ).first()
    if row is None:
        raise NotFound("no rules are stored yet")
    return row


def versions(session: Session) -> list[RuleVersion]:
    """Return every stored rule set, newest first."""
    return list(session.exec(select(RuleVersion).order_by(col(RuleVersion.number).desc())))


def by_number(session: Session, number: int) -> RuleVersion:
    """Return stored rule set ``number``; raise NotFound."""
    row = session.exec(select(RuleVersion).where(RuleVersion.number == number)).first()
    if row is None:
        raise NotFound(f"no rules version {number}")
    return row


def validate(text: str, source: str = "rules.yaml") -> RuleSet:
    """Parse rules YAML; raise :class:`Invalid` naming the line and key of each error."""
    if len(text) > MAX_RULES_CHARS:
        raise Invalid(f"the rules text is longer than {MAX_RULES_CHARS} characters", field="text")
    try:
        return parse_rules(text, source)
    except RulesError as err:
        raise Invalid(str(err), field="text") from err


def _store(
    session: Session,
    text: str,
    rules: RuleSet,
    *,
    author: str,
    role: str,
    why: str,
    now: datetime,
    changes: list[dict[str, str]] | None = None,
) -> RuleVersion:
    last = session.exec(select(func.max(RuleVersion.number))).one()
    number = int(last or 0) + 1
    row = RuleVersion(
        number=number,
        version=rules.version,
        digest=rules.digest,
        author=author,
        why=why,
        created_at=now,
        text=text,
    )
    session.add(row)
    audit.append(
        session,
        at=now,
        actor=author,
        role=role,
        action="rules.change",
        subject=f"rules/{number}",
        why=why,
        data={
            "number": number,
            "version": rules.version,
            "digest": rules.digest,
            "changes": (changes or [])[: rules_edit.MAX_CHANGES],
            "changed_keys": len(changes or []),
        },
    )
    session.commit()
    session.refresh(row)
    log.info("rules version %s (%s) saved by %s", number, rules.version, author)
    return row


def change(
    session: Session, principal: Principal, text: str, why: str, now: datetime
) -> tuple[RuleVersion, bool]:
    """Store new rules YAML as the next version, audited; return (row, whether new).

    Identical text changes nothing. A ``version`` value already used by different stored
    text is refused (decisions record it, so it must name one rule set).
    """
    if not why.strip():
        raise Invalid("say why the rules change", field="why")
    rules = validate(text)
    try:
        latest = current(session)
    except NotFound:
        latest = None
    if latest is not None and latest.digest == rules.digest:
        return latest, False
    clash = session.exec(
        select(RuleVersion).where(
            RuleVersion.version == rules.version, RuleVersion.digest != rules.digest
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"version {rules.version!r} already names stored rules {clash.number}; "
            "give the new rules a new version",
            field="version",
        )
    row = _store(
        session,
        text,
        rules,
        author=principal.name,
        role=principal.role.value,
        why=why.strip(),
        now=now,
        changes=rules_edit.differences(latest.text, text) if latest is not None else [],
    )
    return row, True


def seed(session: Session, rules_path: str | None, now: datetime) -> RuleVersion | None:
    """Store the configured (or packaged) rules as version 1 when none is stored yet.

    Raises :class:`Invalid` when the rules file cannot be read or is not valid.
    """
    if session.exec(select(RuleVersion.id).limit(1)).first() is not None:
        return None
    if rules_path is None:
        source = "rules.yaml (packaged default)"
        text = resources.files("inspection").joinpath("data/rules.yaml").read_text("utf-8")
    else:
        source = rules_path
        try:
            text = Path(rules_path).read_text(encoding="utf-8")
        except OSError as err:
            raise Invalid(f"{rules_path}: cannot read rules file: {err.strerror}") from err
    rules = validate(text, source)
    return _store(
        session,
        text,
        rules,
        author="system",
        role="system",
        why="initial rules at first start",
        now=now,
    )
