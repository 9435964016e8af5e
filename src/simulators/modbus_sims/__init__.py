"""Modbus TCP simulators: the in-line checkweigher and the sorter PLC, with fault injection."""
