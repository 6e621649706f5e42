"""Pure portfolio analytics: value changes, rankings, allocation and P/L (Decimal only)."""
