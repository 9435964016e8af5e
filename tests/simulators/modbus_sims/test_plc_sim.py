"""The sorter PLC simulator seen by a third party: a plain pymodbus client on raw addresses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient

from simulators.modbus_sims.harness import RunningPlc, running_plc
from simulators.modbus_sims.spec import PlcSpec

# 5 m/s belt: scanner at 1 m (0.2 s), decision point at 4 m (0.8 s), chute k at 4+k m,
# reject chute 99 at 9 m (1.8 s).
SPEC = PlcSpec(rate_per_s=10.0, belt_speed_m_s=5.0, scan_to_decision_m=3.0, chutes=4)


@pytest.fixture
def plc() -> Iterator[RunningPlc]:
    with running_plc(SPEC, induct=False, seed=1) as running:
        yield running


@pytest.fixture
def raw(plc: RunningPlc) -> Iterator[ModbusTcpClient]:
    client: Any = ModbusTcpClient("127.0.0.1", port=plc.port, timeout=1.0, retries=0)
    assert client.connect()
    yield client
    client.close()


def _read_all(client: ModbusTcpClient) -> list[int]:
    """Registers 0..194 as two plain reads (0..124 and 125..194)."""
    a = client.read_holding_registers(0, count=125, device_id=1)
    b = client.read_holding_registers(125, count=70, device_id=1)
    assert not a.isError()
    assert not b.isError()
    return list(a.registers) + list(b.registers)


def _read_until(client: ModbusTcpClient, ready: Any, limit_s: float = 10.0) -> list[int]:
    """Read the whole map until ``ready(registers)`` holds (or ``limit_s`` passes); return it."""
    until = time.monotonic() + limit_s
    regs = _read_all(client)
    while not ready(regs) and time.monotonic() < until:
        time.sleep(0.02)
        regs = _read_all(client)
    return regs


def _induct(plc: RunningPlc, n: int) -> None:
    for _ in range(n):
        plc.loop.run_sync(plc.runner.model.induct)


def test_raw_view_matches_the_design_map(plc: RunningPlc, raw: ModbusTcpClient) -> None:
    regs = _read_all(raw)
    assert regs[1] == 1  # plc_state running
    assert regs[10] == 0  # no requests yet
    _induct(plc, 3)
    # past the scanner (0.2 s), not yet at the decision point (0.8 s)
    regs = _read_until(raw, lambda r: r[10] == 3)
    assert len(regs) == 195
    assert regs[10] == 3  # request_head
    for k in range(3):  # slot k: item_id u32 high word first, then deadline_ms
        item_id = regs[11 + 3 * k] << 16 | regs[12 + 3 * k]
        assert item_id == k + 1
        assert 0 < regs[13 + 3 * k] <= 600
    assert regs[3:10] == [0] * 7  # unused registers read as 0
    assert regs[59] == 0
    assert regs[125:130] == [0] * 5
    first = regs[0]
    assert _read_until(raw, lambda r: r[0] >= first + 2, 2.0)[0] >= first + 2  # 50 ms beat


def test_raw_reply_gets_diverted_and_the_rest_rejected(
    plc: RunningPlc, raw: ModbusTcpClient
) -> None:
    _induct(plc, 3)
    _read_until(raw, lambda r: r[10] >= 1)  # item 1 asks at the scanner, 0.6 s before its turn
    # answer item 1 only: slot 0 at 61..64 = item_id (hi, lo), chute 2, reason 9; head last
    assert not raw.write_registers(61, [0, 1, 2, 9], device_id=1).isError()
    assert not raw.write_register(60, 1, device_id=1).isError()
    assert not raw.write_register(2, 77, device_id=1).isError()  # edge heartbeat
    # chute 2 at 6 m (1.2 s), reject chute 99 at 9 m (1.8 s)
    regs = _read_until(raw, lambda r: r[130] >= 3)
    assert regs[2] == 77
    assert regs[130] == 3  # confirm_head
    confirms = {
        regs[131 + 4 * k] << 16 | regs[132 + 4 * k]: (regs[133 + 4 * k], regs[134 + 4 * k])
        for k in range(3)
    }
    assert confirms == {1: (2, 0), 2: (99, 2), 3: (99, 2)}  # diverted; no answer -> reject


@pytest.mark.parametrize(("address", "count"), [(1, 1), (10, 1), (130, 1), (0, 3), (124, 2)])
def test_writes_to_plc_owned_registers_are_refused(
    raw: ModbusTcpClient, address: int, count: int
) -> None:
    reply = raw.write_registers(address, [5] * count, device_id=1)
    assert reply.isError()
    assert reply.exception_code == 2  # illegal data address


def test_reads_past_the_map_and_other_units_are_refused(raw: ModbusTcpClient) -> None:
    past = raw.read_holding_registers(190, count=10, device_id=1)
    assert past.isError()
    assert past.exception_code == 2
    other = raw.read_holding_registers(0, count=1, device_id=9)
    assert other.isError()
    assert other.exception_code == 11  # gateway target did not respond


def test_little_word_order_puts_the_low_word_first() -> None:
    spec = SPEC.model_copy(update={"word_order": "little"})
    with running_plc(spec, induct=False) as plc:
        client: Any = ModbusTcpClient("127.0.0.1", port=plc.port, timeout=1.0, retries=0)
        try:
            _induct(plc, 1)
            regs = _read_until(client, lambda r: r[10] == 1)
        finally:
            client.close()
    assert regs[10] == 1
    assert regs[11:13] == [1, 0]  # item 1: low word, then high word


def test_spec_refuses_a_reject_chute_among_the_chutes() -> None:
    with pytest.raises(ValueError, match="collides"):
        PlcSpec(chutes=8, reject_chute=5)


@pytest.mark.parametrize("unit", [0, 2, 9, 247])
@pytest.mark.parametrize(("address", "count"), [(0, 1), (0, 2), (10, 49), (500, 2), (65530, 6)])
def test_a_peer_stack_gets_exception_11_for_any_other_unit(
    plc: RunningPlc, unit: int, address: int, count: int
) -> None:
    """pyModbusTCP (another Modbus implementation) asks a wrong unit id: 0x0B, as a gateway."""
    from pyModbusTCP.client import ModbusClient

    peer = ModbusClient(host="127.0.0.1", port=plc.port, unit_id=unit, timeout=2.0)
    try:
        assert peer.read_holding_registers(address, count) is None
        assert peer.last_except == 11
        assert peer.write_single_register(2, 1) is False
        assert peer.last_except == 11
        peer.unit_id = 1
        assert peer.read_holding_registers(address, count) is None or address < 195
        assert peer.last_except == (2 if address + count > 195 else 0)
    finally:
        peer.close()
