"""The local JSON API (FastAPI), served by `keyfolio serve`.

``create_app`` is imported lazily so that ``import keyfolio.api`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyfolio.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from keyfolio.api.app import create_app

        return create_app
    raise AttributeError(name)
