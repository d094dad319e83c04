"""``retrofit-agent probe``: what a device offers, for the installer writing its configuration.

``modbus`` (read address ranges, show them decoded every useful way: ``probe_modbus``; with
``modbus_ranges`` parsing the arguments and ``modbus_tables`` drawing the tables),
``opcua`` (walk the node tree, draft a ``tags:`` block: ``probe_opcua``; with ``opcua_browse``
walking the server and ``opcua_tags`` rendering the tree and ``tags_yaml``),
``state`` (watch a configured device's power or current, suggest a ``state:`` block:
``probe_state``; with ``thresholds`` choosing the levels and edges, pure),
``commands`` (the typer group, added to the CLI by :func:`register`) and ``options`` (defaults,
exit codes). Only the light parts are re-exported here: importing ``modbus`` or ``opcua`` pulls
in pymodbus or asyncua.
"""

from .commands import register
from .options import EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_DEVICE_FAILED", "EXIT_OK", "EXIT_USAGE", "register"]
