"""Device codecs, transports and adapters: scanners, scales, checkweighers, PLCs, X-ray."""
