"""Sans-IO codecs for serial devices: tunnel and hand scanners, MT-SICS and Toledo scales."""

from devices.codecs.base import Garbled, drain

__all__ = ["Garbled", "drain"]
