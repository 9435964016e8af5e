"""Independent peers of the line (development only): sorter PLC, checkweigher, tunnel scanner.

Written from the tables of DESIGN section 6 on another Modbus implementation than the
edge's (pyModbusTCP's ``ModbusServer`` and ``DataBank``, a development dependency), so the
end-to-end test and the line benchmarks check the edge against devices we did not derive
from our own simulators.
"""
