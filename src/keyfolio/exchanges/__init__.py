"""Exchange connectors on top of ccxt's async API.

Importing this package does not import ccxt (the CLI starts fast); ccxt is imported on first use.
ccxt's types and exceptions never leave the package: connectors return domain objects and raise
:mod:`keyfolio.errors` classes.
"""

from keyfolio.exchanges.base import ExchangeConnector
from keyfolio.exchanges.catalog import (
    ExchangeInfo,
    credential_label,
    exchange_info,
    list_exchanges,
)
from keyfolio.exchanges.ccxt_generic import GenericCcxtConnector
from keyfolio.exchanges.errors import CCXT_ERROR_MAP, map_ccxt_errors
from keyfolio.exchanges.okx import OkxConnector
from keyfolio.exchanges.pool import ConnectorPool

__all__ = [
    "CCXT_ERROR_MAP",
    "ConnectorPool",
    "ExchangeConnector",
    "ExchangeInfo",
    "GenericCcxtConnector",
    "OkxConnector",
    "credential_label",
    "exchange_info",
    "list_exchanges",
    "map_ccxt_errors",
]
