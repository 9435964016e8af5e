"""X-ray pre-screen: dual-energy material map, review views, flags, auto-clear and evaluation."""

from inspection.xray.flags import Flag, FlagKind
from inspection.xray.image import XrayImageError, decode_attenuation
from inspection.xray.prescreen import PrescreenConfig, PrescreenResult, prescreen, xray_state

__all__ = [
    "Flag",
    "FlagKind",
    "PrescreenConfig",
    "PrescreenResult",
    "XrayImageError",
    "decode_attenuation",
    "prescreen",
    "xray_state",
]
