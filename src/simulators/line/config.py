"""Site and line configuration of the line model (``clearline sim line --config site.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from contracts.config import ConfigModel
from contracts.registers import WordOrder


class LineConfigError(ValueError):
    """A site file is unreadable or invalid; the message names the file, line and key."""


class _Model(ConfigModel):
    """Strict, frozen configuration (see ``contracts.config``)."""


class ChuteConfig(_Model):
    """One discharge chute (lane) of the sorter."""

    number: int = Field(ge=1, le=65535, title="Chute number", description="As sent by the edge.")
    position_m: float = Field(
        gt=0, title="Position", description="Distance from induction to the chute, metres."
    )
    capacity: int = Field(
        50, ge=1, title="Lane capacity", description="Items the lane holds before it is full."
    )
    drain_per_h: float = Field(
        600.0, ge=0, title="Drain rate", description="Items cleared per hour (0: never)."
    )


class InductionConfig(_Model):
    """How parcels arrive on the belt."""

    rate_per_h: float = Field(
        gt=0, le=1_000_000, title="Rate", description="Parcels per hour (stress runs go high)."
    )
    mode: Literal["poisson", "fixed"] = Field(
        "poisson", title="Arrival process", description="Poisson arrivals or a fixed spacing."
    )
    min_gap_m: float = Field(
        0.3, ge=0, title="Minimum gap", description="Smallest belt gap between parcels, metres."
    )


class ModbusServerConfig(_Model):
    """Where a simulated Modbus device listens."""

    host: str = Field("127.0.0.1", title="Host", description="Address to bind.")
    port: int = Field(ge=0, le=65535, title="Port", description="TCP port (0: any free port).")
    unit: int = Field(1, ge=0, le=255, title="Unit", description="Modbus unit id.")
    word_order: WordOrder = Field(
        "big", title="Word order", description="u32/float32 word order: big (high first) or little."
    )


class ScannerServerConfig(_Model):
    """Where the simulated tunnel scanner listens, and how it writes its frames."""

    host: str = Field("127.0.0.1", title="Host", description="Address to bind.")
    port: int = Field(ge=0, le=65535, title="Port", description="TCP port (0: any free port).")
    item_id_width: int = Field(
        6, ge=1, le=10, title="Item id width", description="Digits item ids are padded to."
    )
    aim: str = Field(
        "]C0",
        pattern=r"^(\][A-Za-z][0-9A-Za-z])?$",
        title="AIM prefix",
        description="Symbology identifier put before each code ('' for none).",
    )


class XrayMachineConfig(_Model):
    """The simulated X-ray machine of a line: topic id and image size."""

    device_id: str = Field(
        "xray1",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        title="Device id",
        description="Topic level of clearline/{site}/xray/{device_id}/image/{item_id}.",
    )
    width_px: int = Field(
        1024,
        ge=64,
        le=4096,
        title="Image width",
        description="Detector elements across the belt, px (height is 3/4 of it).",
    )
    scan_width_mm: float = Field(
        614.4, gt=0, le=3000, title="Scan width", description="Belt width the detector covers, mm."
    )
    png_compression: int = Field(
        0,
        ge=0,
        le=9,
        title="PNG compression",
        description="zlib level: 0 is fastest to encode and decode (noisy images barely shrink).",
    )
    threat_rate: float = Field(
        0.1,
        ge=0,
        le=1,
        title="Threat rate",
        description="Share of generated parcels with a threat inside (no scenario).",
    )


class LineConfig(_Model):
    """One sorting line: geometry (metres from induction), belt, chutes and induction."""

    name: str = Field(min_length=1, max_length=64, title="Name", description="Line id.")
    belt_speed_m_s: float = Field(gt=0, le=5, title="Belt speed", description="Metres per second.")
    encoder_mm_per_pulse: float = Field(
        1.0, gt=0, le=100, title="Encoder resolution", description="Belt travel per pulse, mm."
    )
    scanner_m: float = Field(ge=0, title="Scanner", description="Scan tunnel position, metres.")
    checkweigher_m: float = Field(ge=0, title="Checkweigher", description="Position, metres.")
    xray_m: float = Field(ge=0, title="X-ray", description="X-ray tunnel position, metres.")
    decision_point_m: float = Field(
        gt=0, title="Decision point", description="Where the PLC fixes the chute, metres."
    )
    loop_length_m: float = Field(
        gt=0, title="Loop length", description="Length of one lap of the loop sorter, metres."
    )
    chutes: list[ChuteConfig] = Field(min_length=2, title="Chutes", description="Discharge lanes.")
    reject_chute: int = Field(
        ge=1, le=65535, title="Reject chute", description="Chute for no answer / late / limit."
    )
    recirculation_limit: int = Field(
        2, ge=0, le=20, title="Recirculation limit", description="Laps before the reject chute."
    )
    lost_track_rate: float = Field(
        0.0, ge=0, le=1, title="Lost-track rate", description="Share of items the PLC loses."
    )
    induction: InductionConfig = Field(title="Induction", description="Arrival process.")
    parcel_weight_kg_min: float = Field(0.1, gt=0, title="Lightest parcel", description="kg.")
    parcel_weight_kg_max: float = Field(20.0, gt=0, title="Heaviest parcel", description="kg.")
    plc: ModbusServerConfig = Field(
        default_factory=lambda: ModbusServerConfig(port=5020),
        title="PLC server",
        description="Where the simulated sorter PLC listens.",
    )
    checkweigher: ModbusServerConfig = Field(
        default_factory=lambda: ModbusServerConfig(port=5021),
        title="Checkweigher server",
        description="Where the simulated checkweigher listens.",
    )
    scanner: ScannerServerConfig = Field(
        default_factory=lambda: ScannerServerConfig(port=5022),
        title="Tunnel scanner server",
        description="Where the simulated tunnel scanner listens.",
    )
    xray: XrayMachineConfig = Field(
        default_factory=XrayMachineConfig,
        title="X-ray machine",
        description="The simulated X-ray machine (images go to the site's broker).",
    )

    @model_validator(mode="after")
    def _geometry(self) -> LineConfig:
        """Refuse a geometry the sorter cannot have; never adjusts a value."""
        numbers = [c.number for c in self.chutes]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"chute numbers repeat: {sorted(numbers)}")
        if self.reject_chute not in numbers:
            raise ValueError(f"reject_chute {self.reject_chute} is not one of the chutes")
        for key in ("scanner_m", "checkweigher_m", "xray_m"):
            if getattr(self, key) >= self.decision_point_m:
                raise ValueError(f"{key} must lie before decision_point_m")
        first = min(c.position_m for c in self.chutes)
        if first <= self.decision_point_m:
            raise ValueError("every chute must lie after decision_point_m")
        reject = next(c for c in self.chutes if c.number == self.reject_chute)
        if any(c.position_m > reject.position_m for c in self.chutes):
            raise ValueError("the reject chute must be the last chute on the line")
        if self.loop_length_m <= reject.position_m:
            raise ValueError("loop_length_m must exceed the last chute's position")
        spacing_m = self.belt_speed_m_s * 3600.0 / self.induction.rate_per_h
        if spacing_m <= self.induction.min_gap_m:
            raise ValueError(
                f"induction.rate_per_h {self.induction.rate_per_h:g} leaves {spacing_m:.3f} m "
                f"between parcels at {self.belt_speed_m_s:g} m/s, not more than min_gap_m"
            )
        if self.parcel_weight_kg_max < self.parcel_weight_kg_min:
            raise ValueError("parcel_weight_kg_max must be at least parcel_weight_kg_min")
        return self

    def chute(self, number: int) -> ChuteConfig:
        """Return the chute with ``number``; KeyError when there is none."""
        for c in self.chutes:
            if c.number == number:
                return c
        raise KeyError(number)


class SiteConfig(_Model):
    """A site file for the line model: the site id and its lines."""

    site: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^/+#\s]+$",
        title="Site",
        description="Site id (a topic level: no '/', '+', '#' or spaces).",
    )
    broker_url: str = Field(
        "mqtt://127.0.0.1:1883",
        pattern=r"^mqtt://[^/\s]+$",
        title="Broker",
        description="mqtt://HOST:PORT the simulated X-ray machines publish to.",
    )
    lines: list[LineConfig] = Field(min_length=1, title="Lines", description="Sorting lines.")
    edges: list[dict[str, Any]] = Field(
        default_factory=list,
        title="Edges",
        description="The edges' part of the site file (read by the edge; ignored here).",
    )
    hub: dict[str, Any] | None = Field(
        None, title="Hub", description="The hub's part of the site file (ignored here)."
    )

    def line(self, name: str | None = None) -> LineConfig:
        """Return the named line, or the first one when ``name`` is None."""
        if name is None:
            return self.lines[0]
        for line in self.lines:
            if line.name == name:
                return line
        raise LineConfigError(f"no line named {name!r}; known: {[x.name for x in self.lines]}")


def _node_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Return the 1-based YAML line of the value at ``loc``, or the nearest parent's."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if nxt is None:
                # an unknown key: point at the key itself when it exists
                kn = next((k for k, _ in node.value if getattr(k, "value", None) == key), None)
                return kn.start_mark.line + 1 if kn is not None else line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return line
            node = node.value[key]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def check_line(data: dict[str, Any], what: str = "") -> LineConfig:
    """Validate one line's settings (a ``LineConfig.model_dump()``, changed or not): a
    ``model_copy`` skips the checks, a line model must not. Raises ``LineConfigError`` naming
    the line, ``what`` was changed, and each problem."""
    try:
        return LineConfig.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"] if e["loc"] else e["msg"]
            for e in err.errors()
        )
        head = f"line {data.get('name')}: " + (f"{what}: " if what else "")
        raise LineConfigError(head + problems) from None


def parse_site(text: str, source: str = "<string>") -> SiteConfig:
    """Parse and validate a site YAML document; errors name ``source``, line and key."""
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise LineConfigError(f"{source}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise LineConfigError(f"{source}: expected a mapping with 'site' and 'lines'")
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            loc = tuple(x for x in e["loc"] if isinstance(x, (int, str)))
            key = ".".join(str(x) for x in loc) or "(top)"
            where = _node_line(root, loc)
            lines.append(f"{source}:{where}: {key}: {e['msg']}")
        raise LineConfigError("invalid site file\n" + "\n".join(lines)) from None


def load_site(path: Path) -> SiteConfig:
    """Read and validate a site file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise LineConfigError(f"{path}: cannot read: {err.strerror}") from None
    return parse_site(text, str(path))
