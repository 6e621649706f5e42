"""The venue-neutral core of the sandbox: state, books, faults, limits, request log, control API.

A venue (``keyfolio.sandbox.venues.<id>``) adds its protocol: paths, auth, envelopes, error codes,
JSON shapes and WebSocket. Import from the module that owns the concept.
"""

__all__: list[str] = []
