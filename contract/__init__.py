"""What the agent and the collector both stand on, and neither owns.

- :mod:`contract.wire`: the wire contract (topics, messages, canonical bytes, signatures);
- :mod:`contract.quantities`: the base quantities, once (name, unit, kind, how each combines);
- :mod:`contract.merkle`: RFC 6962 Merkle trees (a day seal's commitment to its windows);
- :mod:`contract.days`: the local day a window belongs to, one rule for every side;
- :mod:`contract.daysums`: a device-day's sums for a day seal, and comparing a row with them;
- :mod:`contract.configfile`: configuration-like files (YAML 1.2 with line marks, ``${VAR}``,
  every problem as ``file:line key.path: got X, expected Y``) for the agent's configuration,
  the collector's, the implementation plan and the simulator's plant;
- :mod:`contract.errors`: the errors of those files and of files a user names;
- :mod:`contract.files`: reading a user-named file as hostile input (regular files, bounded);
- :mod:`contract.keys`: Ed25519 key files (an agent's identity, the collector's bundle key);
- :mod:`contract.terminal`: hostile text on a terminal, shown and never obeyed;
- :mod:`contract.metrics`: the loopback Prometheus and health endpoint;
- :mod:`contract.logs`: one logging setup; :mod:`contract.clock`: wall and scaled plant clocks.

Importing this package imports nothing else: each module is imported by name. It depends only
on the project's base dependencies (pydantic, cryptography, PyYAML, rich), so the gateway's
``agent`` extra stays light.
"""

__all__: list[str] = []
