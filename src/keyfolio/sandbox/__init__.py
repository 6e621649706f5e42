"""keyfolio.sandbox: a local OKX V5 exchange (REST + WebSocket) for tests and the demo.

Import from the module that owns the concept: ``keyfolio.sandbox.state`` (the state file),
``keyfolio.sandbox.server`` (``run_sandbox``, ``serve``, ``SandboxThread``) and
``keyfolio.sandbox.demo`` (``demo_state``). See docs/sandbox.md.
"""

__all__: list[str] = []
