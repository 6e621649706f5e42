"""Pure domain objects: Decimal money, balances, accounts. No I/O, no foreign libraries."""
