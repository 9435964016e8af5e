"""The edge's part of the site file: one entry per line under ``edges:``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from contracts.config import ConfigModel
from contracts.reasons import Outcome
from contracts.yamlconf import describe, read_yaml
from devices.profiles import HandScannerProfile, ScaleProfile, TunnelScannerProfile
from edge.trust import EdgeTrust
from sorting.chutes import ChutePlan


class EdgeConfigError(ValueError):
    """The site file's edge part is invalid; the message names file, line and key."""


class _Model(ConfigModel):
    """Strict, frozen configuration (see ``contracts.config``)."""


class ModbusDevice(_Model):
    """A Modbus TCP device (PLC or checkweigher)."""

    device_id: str = Field(min_length=1, title="Device id", description="Name in events.")
    host: str = Field("127.0.0.1", title="Host", description="Device address.")
    port: int = Field(ge=1, le=65535, title="Port", description="Modbus TCP port.")
    unit: int = Field(1, ge=0, le=255, title="Unit", description="Modbus unit id.")
    word_order: Literal["big", "little"] = Field(
        "big", title="Word order", description="u32/float32 word order."
    )
    timeout_ms: int = Field(300, ge=10, le=10_000, title="Timeout", description="Per request, ms.")


class XrayDevice(_Model):
    """An X-ray machine publishing images over MQTT."""

    device_id: str = Field(min_length=1, title="Device id", description="Topic level.")
    prescreen_workers: int = Field(
        1, ge=0, le=8, title="Pre-screen workers", description="Threads; 0 = inspector only."
    )
    pixel_mm: float = Field(
        0.6, gt=0.01, le=10, title="Pixel pitch", description="Image pixel size at the belt, mm."
    )
    calibration: Path | None = Field(
        None,
        title="Calibration",
        description="This machine's calibration file (clearline xray calibrate); without one "
        "every image waits for an inspector.",
    )


class DecisionSettings(_Model):
    """Timing of answers to the PLC."""

    margin_ms: int = Field(
        15,
        ge=0,
        le=1000,
        title="Write margin",
        description="Time kept before the decision point on top of the measured reply time, ms.",
    )
    recirculation_limit: int = Field(
        2, ge=0, le=20, title="Recirculation limit", description="Laps before an alarm."
    )


class EdgeConfig(_Model):
    """One edge: the devices of one line, its chutes, its hub and broker."""

    edge_id: str = Field(min_length=1, max_length=64, title="Edge id", description="Topic level.")
    line: str = Field(min_length=1, title="Line", description="Name of the line it runs.")
    broker_url: str = Field(
        "mqtt://127.0.0.1:1883", title="Broker", description="mqtt://HOST:PORT of the site broker."
    )
    hub_url: str | None = Field(
        None, title="Hub", description="http://HOST:PORT of the hub (None: no declaration sync)."
    )
    hub_api_key_env: str = Field(
        "CLEARLINE_EDGE_API_KEY",
        title="API key variable",
        description="Environment variable holding this edge's hub API key.",
    )
    store_dir: Path = Field(
        Path("var/edge"), title="Store", description="Directory of the outbox and the cache."
    )
    plc: ModbusDevice = Field(title="Sorter PLC", description="The line's PLC.")
    plc_link: Literal["process", "thread"] = Field(
        "process",
        title="PLC link",
        description="Where the PLC is polled and answered: a process of its own, out of reach "
        "of the edge's interpreter lock, or a thread of the edge.",
    )
    plc_link_nice: int | None = Field(
        -10,
        ge=-20,
        le=19,
        title="PLC link priority",
        description="Scheduling priority (nice value) of the PLC link's process: below 0 the "
        "kernel runs it ahead of the edge's other work when the CPUs are busy. Needs "
        "CAP_SYS_NICE; without it the process logs a warning and keeps the edge's priority. "
        "null keeps the edge's priority.",
    )
    checkweigher: ModbusDevice | None = Field(None, title="Checkweigher", description="Modbus.")
    tunnel_scanner: TunnelScannerProfile | None = Field(
        None, title="Tunnel scanner", description="Serial/TCP tunnel scanner profile."
    )
    xray: XrayDevice | None = Field(None, title="X-ray", description="X-ray machine.")
    chutes: ChutePlan = Field(title="Chute plan", description="Chute per outcome.")
    decision: DecisionSettings = Field(
        default_factory=DecisionSettings, title="Decision", description="Answer timing."
    )
    health_port: int = Field(
        0, ge=0, le=65535, title="Health port", description="/healthz and /metrics (0: any)."
    )
    trust: EdgeTrust | None = Field(
        None,
        title="Keys",
        description="Signing key and hub keys from enrolment; without them every verdict "
        "is refused and events go unsigned.",
    )


class DeskAreas(_Model):
    """Where the operator puts a parcel at a manual desk, named per outcome."""

    release: str = Field(
        "RELEASE SHELF", min_length=1, max_length=40, title="Release", description="Released."
    )
    inspect: str = Field(
        "INSPECTION AREA", min_length=1, max_length=40, title="Inspect", description="To inspect."
    )
    hold: str = Field("HOLD CAGE", min_length=1, max_length=40, title="Hold", description="Held.")
    return_: str = Field(
        "RETURN TO SENDER",
        alias="return",
        min_length=1,
        max_length=40,
        title="Return",
        description="Back to the sender.",
    )
    reject: str = Field(
        "MANUAL CODING", min_length=1, max_length=40, title="Reject", description="Technical."
    )

    def area_for(self, outcome: Outcome) -> str:
        """Return the area name of an outcome."""
        return {
            Outcome.RELEASE: self.release,
            Outcome.INSPECT: self.inspect,
            Outcome.HOLD: self.hold,
            Outcome.RETURN: self.return_,
        }.get(outcome, self.reject)


class DeskWeighing(_Model):
    """How long a desk waits for a stable weight, and what counts as an empty scale."""

    settle_timeout_ms: int = Field(
        8000,
        ge=100,
        le=120_000,
        title="Settle timeout",
        description="Longest wait for a stable weight after a scan, ms.",
    )
    min_load_kg: float = Field(
        0.005,
        ge=0,
        le=1000,
        title="Smallest load",
        description="A stable weight below this is an empty scale, kg.",
    )
    retry_pause_ms: int = Field(
        100, ge=0, le=5000, title="Retry pause", description="Pause between weighings, ms."
    )


class DeskConfig(_Model):
    """A manual desk: a hand scanner and a static scale; events go out like a line edge's."""

    desk_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        title="Desk id",
        description="Topic level and edge id of the desk's events.",
    )
    broker_url: str = Field(
        "mqtt://127.0.0.1:1883", title="Broker", description="mqtt://HOST:PORT of the site broker."
    )
    hub_url: str | None = Field(
        None, title="Hub", description="http://HOST:PORT of the hub (None: no declaration sync)."
    )
    hub_api_key_env: str = Field(
        "CLEARLINE_EDGE_API_KEY",
        title="API key variable",
        description="Environment variable holding this desk's hub API key.",
    )
    store_dir: Path | None = Field(
        None, title="Store", description="Outbox, cache and sequence (default var/desk/DESK_ID)."
    )
    trust: EdgeTrust | None = Field(
        None,
        title="Keys",
        description="Signing key and hub keys from enrolment (clearline hub edge enrol "
        "DESK_ID); without them every verdict is refused and events go unsigned.",
    )
    hand_scanner: HandScannerProfile = Field(title="Hand scanner", description="Serial profile.")
    scale: ScaleProfile = Field(title="Scale", description="MT-SICS or Toledo serial profile.")
    areas: DeskAreas = Field(
        default_factory=DeskAreas, title="Areas", description="Area name per outcome."
    )
    weighing: DeskWeighing = Field(
        default_factory=DeskWeighing, title="Weighing", description="Stable-weight wait."
    )
    xray_required_here: bool | None = Field(
        None,
        title="X-ray required here",
        description="None: as the rules say; true: hold every parcel without a cleared image; "
        "false: accepted only while the rules do not require X-ray.",
    )

    @property
    def store_path(self) -> Path:
        """Return the directory of the desk's outbox, cache and sequence."""
        return self.store_dir if self.store_dir is not None else Path("var/desk") / self.desk_id


class EdgeSite(_Model):
    """The parts of a site file the edge reads (others belong to the simulators)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    site: str = Field(min_length=1, max_length=64, title="Site", description="Site id.")
    edges: list[EdgeConfig] = Field(
        default_factory=list, title="Edges", description="One per line."
    )
    desks: list[DeskConfig] = Field(
        default_factory=list, title="Desks", description="Manual desks (hand scanner + scale)."
    )

    @model_validator(mode="after")
    def _ids(self) -> EdgeSite:
        """Need an edge or a desk; edge and desk ids are unique together (one topic space)."""
        if not self.edges and not self.desks:
            raise ValueError("the site file needs an 'edges' or a 'desks' entry")
        ids = [e.edge_id for e in self.edges] + [d.desk_id for d in self.desks]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"edge and desk ids must be unique; used twice: {twice}")
        return self

    def desk(self, desk_id: str | None = None) -> DeskConfig:
        """Return the named desk, or the only one when ``desk_id`` is None."""
        known = [d.desk_id for d in self.desks]
        if not self.desks:
            raise EdgeConfigError("the site file has no 'desks' entry")
        if desk_id is None:
            if len(self.desks) != 1:
                raise EdgeConfigError(f"several desks; pick one of {known}")
            return self.desks[0]
        for d in self.desks:
            if d.desk_id == desk_id:
                return d
        raise EdgeConfigError(f"no desk {desk_id!r}; known: {known}")

    def edge(self, edge_id: str | None = None) -> EdgeConfig:
        """Return the named edge, or the only one when ``edge_id`` is None."""
        if not self.edges:
            raise EdgeConfigError("the site file has no 'edges' entry")
        if edge_id is None:
            if len(self.edges) != 1:
                raise EdgeConfigError(
                    f"several edges; pick one of {[e.edge_id for e in self.edges]}"
                )
            return self.edges[0]
        for e in self.edges:
            if e.edge_id == edge_id:
                return e
        raise EdgeConfigError(f"no edge {edge_id!r}; known: {[e.edge_id for e in self.edges]}")


def parse_edge_site(text: str, source: str) -> EdgeSite:
    """Validate the edge part of a site file; errors name the file, line and key."""
    data, root = read_yaml(text, source, EdgeConfigError)
    try:
        return EdgeSite.model_validate(data)
    except ValidationError as err:
        lines = describe(err, root, source, skip=("tunnel_scanner", "hand_scanner", "scale"))
        raise EdgeConfigError("invalid site file:\n" + "\n".join(lines)) from None


def load_edge_site(path: Path) -> EdgeSite:
    """Read and validate a site file's edge part."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise EdgeConfigError(f"{path}: cannot read: {err.strerror}") from None
    return parse_edge_site(text, str(path))
