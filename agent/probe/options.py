"""Defaults and exit codes of ``retrofit-agent probe``; light, so the CLI can import it at start.

Exit codes are the numbers ``check-config`` uses for the same cases:

- 0: the device answered (some ranges or nodes may still show errors: read the output);
- 2: usage error: a malformed argument (range, address, unit id, URL, option value);
- 3: the device is unreachable, refused the session, or every read failed.
"""

from __future__ import annotations

__all__ = ["DEFAULT_DEPTH", "DEFAULT_READ", "EXIT_DEVICE_FAILED", "EXIT_OK", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_DEVICE_FAILED = 3

#: What ``probe modbus`` reads when no ``--read`` is given.
DEFAULT_READ = "holding:0-9"
#: How many levels below its start node ``probe opcua`` walks by default.
DEFAULT_DEPTH = 4
