"""One owner per Modbus TCP endpoint: a pymodbus client behind a lock, with back-off.

This is the only module of the device layer that touches pymodbus' client API (the
``device_id=`` keyword of 3.10+, exception responses, its logging). Callers use 0-based
wire addresses, the same numbers as ``devices.modbus_maps``; pymodbus clients send them
unchanged (the +1 offset of pymodbus lives only in its deprecated server datastore, which
the simulators do not use).

Failure handling:

- a transaction that times out or loses the connection closes the socket and raises
  ``DeviceUnavailable``; the next call reconnects at once;
- a failed connect starts a back-off (``backoff_initial_s`` doubling to ``backoff_max_s``);
  calls inside the back-off raise ``DeviceUnavailable`` without touching the network;
- an outage (a failed connect, or ``failures_for_outage`` failed transactions in a row) is
  logged once at WARNING and its end once at INFO;
- an exception reply raises ``ProtocolError`` for illegal function/address/value (a map
  mismatch) and ``DeviceUnavailable`` for busy or failing devices.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from contracts.backoff import Backoff
from contracts.registers import MAX_READ_COUNT, MAX_WRITE_COUNT, U16_MOD
from devices.errors import DeviceUnavailable, ProtocolError
from devices.modbus_maps import RegisterWrite

log = logging.getLogger(__name__)

#: Modbus exception codes that mean "the request does not fit this device's map".
_MAP_ERRORS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value"}
_BUSY_ERRORS = {
    4: "device failure",
    5: "acknowledge (busy)",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target did not respond",
}


class _QuietPymodbus(logging.Filter):
    """Drop pymodbus' own per-failure error lines: the endpoint reports outages once."""

    _PREFIXES = ("Connection to", "No response received", "ERROR: request ask for", "Repeating")

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for connection/time-out chatter that the endpoint already reports."""
        return not str(record.msg).startswith(self._PREFIXES)


_quiet = _QuietPymodbus()
if _quiet not in logging.getLogger("pymodbus.logging").filters:
    logging.getLogger("pymodbus.logging").addFilter(_quiet)


class ModbusEndpoint:
    """The single client of one Modbus TCP endpoint (host, port, unit); thread-safe."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        device_id: str,
        unit: int = 1,
        timeout_s: float = 0.5,
        frame_gap_s: float = 0.0005,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 2.0,
        failures_for_outage: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Describe the endpoint; no connection is made until the first transaction.

        ``timeout_s`` bounds connect and each reply; ``frame_gap_s`` is the quiet time kept
        between the end of one transaction and the start of the next.
        """
        if not 0 <= unit <= 255:
            raise ValueError(f"Modbus unit {unit} is outside 0..255")
        if not 0 < port < U16_MOD:
            raise ValueError(f"TCP port {port} is outside 1..65535")
        if timeout_s <= 0 or backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError("timeout_s and back-off must be positive, max >= initial")
        self.host = host
        self.port = port
        self.unit = unit
        self.device_id = device_id
        self.timeout_s = timeout_s
        self.frame_gap_s = frame_gap_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.failures_for_outage = max(1, failures_for_outage)
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._client: Any = None
        self._next_try = 0.0
        self._backoff = Backoff(backoff_initial_s, backoff_max_s)
        self._last_end = -1e9
        self._failures = 0
        self._down_since: float | None = None
        self._closed = False
        self.transactions = 0

    def __repr__(self) -> str:
        """Return the endpoint's identity."""
        return f"ModbusEndpoint({self.device_id} {self.host}:{self.port} unit {self.unit})"

    @property
    def online(self) -> bool:
        """Return False while an outage is in progress."""
        return self._down_since is None

    # --- public transactions ---------------------------------------------------------

    def read_holding(self, address: int, count: int) -> list[int]:
        """Read ``count`` holding registers from wire address ``address``."""
        _check_range(address, count, MAX_READ_COUNT)
        unit = self.unit
        with self._lock:
            rr = self._transact(
                lambda c: c.read_holding_registers(address, count=count, device_id=unit),
                f"read {address}+{count}",
            )
        regs = list(rr.registers)
        if len(regs) != count:
            raise ProtocolError(
                f"device {self.device_id}: asked {count} registers at {address}, got {len(regs)}"
            )
        return regs

    def write_registers(self, address: int, values: Sequence[int]) -> None:
        """Write ``values`` to consecutive holding registers from wire address ``address``."""
        self.write_many([RegisterWrite(address, tuple(values))])

    def write_many(self, writes: Sequence[RegisterWrite]) -> None:
        """Write several register runs in order, holding the bus for all of them."""
        for w in writes:
            _check_range(w.address, len(w.values), MAX_WRITE_COUNT)
            for v in w.values:
                if not 0 <= v < U16_MOD:
                    raise ValueError(f"register value {v} at {w.address} is outside 0..65535")
        with self._lock:
            for w in writes:
                self._transact(_writer(w, self.unit), f"write {w.address}+{len(w.values)}")

    def close(self) -> None:
        """Close the connection; a later transaction reconnects."""
        with self._lock:
            self._drop_client()

    def __enter__(self) -> ModbusEndpoint:
        """Return the endpoint (it connects lazily)."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the connection."""
        self.close()

    # --- internals -------------------------------------------------------------------

    def _drop_client(self) -> None:
        """Close and forget the pymodbus client."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _connect(self) -> Any:
        """Return a connected client, honouring the back-off; raise DeviceUnavailable."""
        if self._client is not None:
            return self._client
        now = self._monotonic()
        if now < self._next_try:
            raise DeviceUnavailable(
                self.device_id,
                f"{self.host}:{self.port} unreachable; next try in {self._next_try - now:.2f} s",
            )
        client: Any = ModbusTcpClient(self.host, port=self.port, timeout=self.timeout_s, retries=0)
        if not client.connect():
            client.close()
            self._next_try = self._monotonic() + self._backoff.next_delay()
            self._outage(f"cannot connect to {self.host}:{self.port}")
            raise DeviceUnavailable(self.device_id, f"cannot connect to {self.host}:{self.port}")
        self._client = client
        return client

    def _transact(self, call: Callable[[Any], Any], what: str) -> Any:
        """Run one request under the lock with the frame gap; map every failure."""
        client = self._connect()
        wait = self._last_end + self.frame_gap_s - self._monotonic()
        if wait > 0:
            self._sleep(wait)
        try:
            response = call(client)
        except (ModbusException, OSError) as err:
            self._drop_client()
            self._last_end = self._monotonic()
            self._failures += 1
            if self._failures >= self.failures_for_outage:
                self._outage(f"{what} failed {self._failures} times: {err}")
            log.debug("device %s: %s failed: %s", self.device_id, what, err)
            raise DeviceUnavailable(self.device_id, f"{what} failed: {err}") from err
        self._last_end = self._monotonic()
        self.transactions += 1
        self._failures = 0
        self._backoff.reset()
        if self._down_since is not None:
            log.info(
                "device %s: back online at %s:%s after %.1f s",
                self.device_id,
                self.host,
                self.port,
                self._monotonic() - self._down_since,
            )
            self._down_since = None
        if response.isError():
            code = int(getattr(response, "exception_code", 0))
            if code in _MAP_ERRORS:
                raise ProtocolError(
                    f"device {self.device_id}: {what} refused: {_MAP_ERRORS[code]} (code {code})"
                )
            detail = _BUSY_ERRORS.get(code, f"exception code {code}")
            raise DeviceUnavailable(self.device_id, f"{what} refused: {detail}")
        return response

    def _outage(self, detail: str) -> None:
        """Log the start of an outage once."""
        if self._down_since is None:
            self._down_since = self._monotonic()
            log.warning("device %s: unavailable: %s", self.device_id, detail)


def _writer(write: RegisterWrite, unit: int) -> Callable[[Any], Any]:
    """Return the client call that performs ``write``."""

    def call(client: Any) -> Any:
        return client.write_registers(write.address, list(write.values), device_id=unit)

    return call


def _check_range(address: int, count: int, max_count: int) -> None:
    """Refuse an address range outside the Modbus register space or a request too long."""
    if not 1 <= count <= max_count:
        raise ValueError(f"register count {count} is outside 1..{max_count}")
    if address < 0 or address + count > U16_MOD:
        raise ValueError(f"registers {address}..{address + count - 1} are outside 0..65535")
