"""keyfolio.sandbox: local exchanges (REST + WebSocket) for the tests, the demo and new users.

A venue-neutral core (``keyfolio.sandbox.core``: state, books, faults, rate limits, request log,
control API, server) and one protocol package per venue (``keyfolio.sandbox.venues.<id>``).
Start one with ``keyfolio.sandbox.core.server`` (``run_sandbox``, ``serve``, ``SandboxThread``);
validate a state file with ``keyfolio.sandbox.venues.load_state``. See docs/sandbox.md.
"""

__all__: list[str] = []
