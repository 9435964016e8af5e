"""Frozen specs of the Modbus simulators: what the device is, before it runs."""

from __future__ import annotations

from pydantic import Field, model_validator

from contracts.config import ConfigModel
from contracts.registers import WordOrder


class CheckweigherSpec(ConfigModel):
    """An in-line checkweigher: unit id, word order, range and (run alone) its weighing rate."""

    unit: int = Field(1, ge=0, le=255, description="Modbus unit id.")
    word_order: WordOrder = Field("big", description="float32/u32 word order.")
    capacity_kg: float = Field(60.0, gt=0, description="Heaviest weighable item; above: overload.")
    min_kg: float = Field(0.02, ge=0, description="Lightest weighable item; below: underload.")
    rate_per_s: float = Field(2.0, gt=0, le=1000, description="Items weighed per second run alone.")
    weight_kg_min: float = Field(0.1, gt=0, description="Lightest random item run alone, kg.")
    weight_kg_max: float = Field(20.0, gt=0, description="Heaviest random item run alone, kg.")
    motion_noise_kg: float = Field(0.25, ge=0, description="Spread of a weight in motion, kg.")
    noise_kg: float = Field(
        0.0, ge=0, description="Measurement noise of a stable weighing (standard deviation), kg."
    )

    @model_validator(mode="after")
    def _ranges(self) -> CheckweigherSpec:
        """Refuse inverted ranges."""
        if self.weight_kg_max < self.weight_kg_min or self.capacity_kg <= self.min_kg:
            raise ValueError("weight ranges are inverted")
        return self


class PlcSpec(ConfigModel):
    """A sorter PLC run alone: unit id, word order, steady induction rate and heartbeat."""

    unit: int = Field(1, ge=0, le=255, description="Modbus unit id.")
    word_order: WordOrder = Field("big", description="u32 word order.")
    rate_per_s: float = Field(4.0, gt=0, le=100, description="Items inducted per second.")
    belt_speed_m_s: float = Field(2.0, gt=0, le=5, description="Belt speed, m/s.")
    scan_to_decision_m: float = Field(
        3.0, gt=0, le=200, description="Belt distance from the scanner to the decision point, m."
    )
    chutes: int = Field(8, ge=1, le=200, description="Number of ordinary chutes (1..N).")
    reject_chute: int = Field(99, ge=1, le=65535, description="Reject chute number.")
    heartbeat_ms: float = Field(50.0, gt=0, le=100, description="plc_heartbeat period, ms.")

    @model_validator(mode="after")
    def _reject_apart(self) -> PlcSpec:
        """Refuse a reject chute number among the ordinary chutes 1..N."""
        if self.reject_chute <= self.chutes:
            raise ValueError(
                f"reject_chute {self.reject_chute} collides with chutes 1..{self.chutes}"
            )
        return self
