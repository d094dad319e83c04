"""Plant simulator: Modbus and OPC UA machines with shifts, stops, counters and a retrofit."""

__all__: list[str] = []
