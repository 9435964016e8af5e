"""The sorting line at run time: engine, its loop, the PLC link, X-ray screening, wiring."""
