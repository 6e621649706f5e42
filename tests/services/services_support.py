"""Helpers for the services tests: an App with accounts linked, and an OKX key's vault fields."""

from __future__ import annotations

from collections.abc import Iterable

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.services.context import App


def okx_fields(key: dict[str, str]) -> dict[str, str]:
    """An OKX key of a sandbox state as the vault keeps it (its passphrase is ``password``)."""
    return {"apiKey": key["apiKey"], "secret": key["secret"], "password": key["passphrase"]}


def linked_app(
    settings: Settings,
    password: str,
    exchange: str,
    url: str,
    fields: dict[str, str],
    names: Iterable[str] = ("alice",),
) -> App:
    """An App whose vault opens with ``password``, with each account of ``names`` on
    ``exchange`` at ``url`` linked with the same key ``fields`` (its vault made on the way)."""
    app = App(settings=settings, password=lambda **_: password)
    for name in names:
        with app.db().session() as store:
            store.add_account(spec=AccountSpec(exchange=exchange, name=name, api_url=url))
        app.vault(create=True).set(name, Credentials(fields=fields))
    return app
