"""Serial device simulators (tunnel scanner, hand scanner, scale) over pty, TCP or a real port."""

from simulators.serial_sims.handscan import HandScannerServer, HandScannerSpec
from simulators.serial_sims.links import PtyLink, SerialLink, TcpLink, open_link
from simulators.serial_sims.scale import ScaleServer, ScaleSpec
from simulators.serial_sims.server import SimServer
from simulators.serial_sims.tunnel import TunnelServer, TunnelSpec

__all__ = [
    "HandScannerServer",
    "HandScannerSpec",
    "PtyLink",
    "ScaleServer",
    "ScaleSpec",
    "SerialLink",
    "SimServer",
    "TcpLink",
    "TunnelServer",
    "TunnelSpec",
    "open_link",
]
