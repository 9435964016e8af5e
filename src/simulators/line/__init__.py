"""The line model: conveyor physics, encoder tracking and the sorter PLC's logic on a clock."""
