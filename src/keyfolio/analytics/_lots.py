"""Lot books for the P/L engine: FIFO queues and average-cost pools, per (account, asset).

A lot is an amount with a USD cost, or with ``cost is None`` when its basis is unknown
(a deposit with no matching withdrawal, a fill whose quote had no USD rate). Both books
answer the same four questions: add units, remove units (a disposal), extract units with
their basis (a transfer), and trim an asset down to what is really held.

Hot paths avoid per-call Decimal context changes: the caller runs the replay in the one money
context (:func:`keyfolio.domain.money.money_context`), where sums and products are exact. Parts
of a lot (``cost x part / amount``) are the only divisions; :func:`~keyfolio.domain.money.prorate`
rounds each once, half-even to 10^-36.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from keyfolio.domain.money import divide, prorate, total

__all__ = ["AverageBook", "Book", "FifoBook", "Lot", "Piece", "Removed"]

logger = logging.getLogger(__name__)

ZERO = Decimal(0)

Removed = tuple[Decimal, Decimal, Decimal, Decimal]
"""``(known_units, known_cost, unknown_units, missing_units)`` taken by a removal.

``missing_units`` is what was asked for beyond every lot the book holds."""

Piece = tuple[Decimal, Decimal | None, datetime | None]
"""One part of a removal, for the lot list: ``(units, cost, acquired_at)``; ``cost`` is None for
unknown basis, and ``acquired_at`` None for units beyond every lot."""


class Lot:
    """``amount`` units bought at ``at`` for ``cost`` USD in total (``None``: unknown basis)."""

    __slots__ = ("amount", "at", "cost")

    def __init__(self, amount: Decimal, cost: Decimal | None, at: datetime) -> None:
        self.amount = amount
        self.cost = cost
        self.at = at

    def __repr__(self) -> str:
        return f"Lot({self.amount}, {self.cost}, {self.at.isoformat()})"


class Book:
    """The interface both books implement."""

    def add(
        self, account: str, asset: str, units: Decimal, cost: Decimal | None, at: datetime
    ) -> None:
        """Add ``units`` (> 0) bought for ``cost`` (``None``: unknown basis)."""
        raise NotImplementedError

    def remove(
        self, account: str, asset: str, units: Decimal, pieces: list[Piece] | None = None
    ) -> Removed:
        """Take ``units`` out (a disposal) and say what basis left with them; with ``pieces``,
        also append each lot taken (and the units missing) to it."""
        raise NotImplementedError

    def extract(self, account: str, asset: str, units: Decimal) -> tuple[list[Lot], Decimal]:
        """Take ``units`` out with their lots (a transfer); also the units missing."""
        raise NotImplementedError

    def insert(self, account: str, asset: str, lots: list[Lot]) -> None:
        """Put lots taken by :meth:`extract` into another account (keeping their cost)."""
        for lot in lots:
            self.add(account, asset, lot.amount, lot.cost, lot.at)

    def totals(self) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        """Per asset over every account: ``(known_units, known_cost, unknown_units)``."""
        raise NotImplementedError

    def trim(self, asset: str, units: Decimal) -> Removed:
        """Drop ``units`` of ``asset`` over all accounts: unknown basis first, then known."""
        raise NotImplementedError


_Entry = tuple[Decimal, Decimal | None, datetime]
"""A FIFO lot as ``(amount, cost, at)``: a tuple of atomic values, which the garbage
collector stops tracking, so a million open lots cost no collection time."""


class FifoBook(Book):
    """First in, first out: a deque of lots per (account, asset); sells take the oldest."""

    def __init__(self) -> None:
        self._lots: dict[tuple[str, str], deque[_Entry]] = {}

    def add(
        self, account: str, asset: str, units: Decimal, cost: Decimal | None, at: datetime
    ) -> None:
        key = (account, asset)
        queue = self._lots.get(key)
        if queue is None:
            queue = self._lots[key] = deque()
        queue.append((units, cost, at))

    def remove(
        self, account: str, asset: str, units: Decimal, pieces: list[Piece] | None = None
    ) -> Removed:
        queue = self._lots.get((account, asset))
        known_units = known_cost = unknown_units = ZERO
        need = units
        while need > ZERO and queue:
            amount, cost, at = queue[0]
            if amount <= need:
                queue.popleft()
                need -= amount
                if cost is None:
                    unknown_units += amount
                else:
                    known_units += amount
                    known_cost += cost
                if pieces is not None:
                    pieces.append((amount, cost, at))
            else:
                part = None
                if cost is None:
                    unknown_units += need
                    queue[0] = (amount - need, None, at)
                else:
                    part = prorate(cost, need, amount)
                    known_units += need
                    known_cost += part
                    queue[0] = (amount - need, cost - part, at)
                if pieces is not None:
                    pieces.append((need, part, at))
                need = ZERO
        if pieces is not None and need > ZERO:
            pieces.append((need, None, None))
        return known_units, known_cost, unknown_units, need

    def extract(self, account: str, asset: str, units: Decimal) -> tuple[list[Lot], Decimal]:
        queue = self._lots.get((account, asset))
        taken: list[Lot] = []
        need = units
        while need > ZERO and queue:
            amount, cost, at = queue[0]
            if amount <= need:
                queue.popleft()
                need -= amount
                taken.append(Lot(amount, cost, at))
            else:
                part = None if cost is None else prorate(cost, need, amount)
                taken.append(Lot(need, part, at))
                rest = None if cost is None or part is None else cost - part
                queue[0] = (amount - need, rest, at)
                need = ZERO
        return taken, need

    def insert(self, account: str, asset: str, lots: list[Lot]) -> None:
        key = (account, asset)
        queue = self._lots.get(key)
        if queue is None:
            queue = self._lots[key] = deque()
        queue.extend((lot.amount, lot.cost, lot.at) for lot in lots)

    def totals(self) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        result: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        for (_account, asset), queue in self._lots.items():
            known_units, known_cost, unknown_units = result.get(asset, (ZERO, ZERO, ZERO))
            for amount, cost, _at in queue:
                if cost is None:
                    unknown_units += amount
                else:
                    known_units += amount
                    known_cost += cost
            result[asset] = (known_units, known_cost, unknown_units)
        return result

    def trim(self, asset: str, units: Decimal) -> Removed:
        """Unknown-basis lots first (by account name, oldest first), then known lots oldest
        first across all accounts (ties by account name)."""
        keys = sorted(key for key in self._lots if key[1] == asset)
        lots = [(key, Lot(*entry)) for key in keys for entry in self._lots[key]]
        known_units = known_cost = unknown_units = ZERO
        need = units
        for _key, lot in lots:
            if need <= ZERO:
                break
            if lot.cost is None:
                take = min(lot.amount, need)
                lot.amount -= take
                unknown_units += take
                need -= take
        ordered = sorted(
            (item for item in enumerate(lots) if item[1][1].cost is not None),
            key=lambda item: (item[1][1].at, item[1][0], item[0]),
        )
        for _index, (_key, lot) in ordered:
            if need <= ZERO:
                break
            assert lot.cost is not None
            take = min(lot.amount, need)
            part = lot.cost if take == lot.amount else prorate(lot.cost, take, lot.amount)
            lot.amount -= take
            lot.cost -= part
            known_units += take
            known_cost += part
            need -= take
        for key in keys:
            self._lots[key] = deque()
        for key, lot in lots:
            if lot.amount > ZERO:
                self._lots[key].append((lot.amount, lot.cost, lot.at))
        return known_units, known_cost, unknown_units, need


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = Decimal("0.000001")


def _seconds(at: datetime) -> Decimal:
    """``at`` as exact seconds since the epoch (microseconds kept; no float)."""
    delta = at - _EPOCH
    return Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)


class _Pool:
    __slots__ = ("at", "known_cost", "known_units", "mean", "unknown_units")

    def __init__(self, at: datetime) -> None:
        self.known_units = ZERO
        self.known_cost = ZERO
        self.unknown_units = ZERO
        self.at = at
        self.mean = ZERO  # the units' mean acquisition time in epoch seconds (dated books)

    @property
    def mean_at(self) -> datetime:
        return _EPOCH + timedelta(seconds=int(self.mean), microseconds=int(self.mean % 1 * 10**6))


class AverageBook(Book):
    """Average cost: one pool per (account, asset) with known units and cost and unknown units.

    A removal takes known and unknown units in proportion to the pool, at the pool's average
    cost per known unit. A *dated* book also keeps each pool's unit-weighted mean acquisition
    time (to the microsecond), which the lot list shows as the acquisition time of the units
    taken; a removal leaves the mean unchanged.
    """

    def __init__(self, *, dated: bool = False) -> None:
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._dated = dated

    def add(
        self, account: str, asset: str, units: Decimal, cost: Decimal | None, at: datetime
    ) -> None:
        key = (account, asset)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(at)
        if self._dated:
            held = pool.known_units + pool.unknown_units
            weighted = pool.mean * held + _seconds(at) * units
            pool.mean = divide(weighted, held + units, quantum=_MICROSECOND)
        if cost is None:
            pool.unknown_units += units
        else:
            pool.known_units += units
            pool.known_cost += cost

    def _take(self, pool: _Pool, units: Decimal) -> Removed:
        known, unknown = pool.known_units, pool.unknown_units
        pooled = known + unknown
        if units >= pooled:
            cost = pool.known_cost
            pool.known_units = pool.known_cost = pool.unknown_units = ZERO
            return known, cost, unknown, units - pooled
        if unknown == ZERO:
            cost = prorate(pool.known_cost, units, known)
            pool.known_units = known - units
            pool.known_cost -= cost
            return units, cost, ZERO, ZERO
        known_part = prorate(known, units, pooled)
        unknown_part = units - known_part
        cost = ZERO if known == ZERO else prorate(pool.known_cost, known_part, known)
        pool.known_units = known - known_part
        pool.known_cost -= cost
        pool.unknown_units = unknown - unknown_part
        return known_part, cost, unknown_part, ZERO

    def remove(
        self, account: str, asset: str, units: Decimal, pieces: list[Piece] | None = None
    ) -> Removed:
        pool = self._pools.get((account, asset))
        if pool is None:
            if pieces is not None:
                pieces.append((units, None, None))
            return ZERO, ZERO, ZERO, units
        taken = self._take(pool, units)
        if pieces is not None:
            known_units, known_cost, unknown_units, missing = taken
            at = pool.mean_at if self._dated else pool.at
            if known_units or known_cost:
                pieces.append((known_units, known_cost, at))
            if unknown_units:
                pieces.append((unknown_units, None, at))
            if missing:
                pieces.append((missing, None, None))
        return taken

    def extract(self, account: str, asset: str, units: Decimal) -> tuple[list[Lot], Decimal]:
        pool = self._pools.get((account, asset))
        if pool is None:
            return [], units
        at = pool.mean_at if self._dated else pool.at
        known_units, known_cost, unknown_units, missing = self._take(pool, units)
        lots = []
        if known_units > ZERO:
            lots.append(Lot(known_units, known_cost, at))
        if unknown_units > ZERO:
            lots.append(Lot(unknown_units, None, at))
        return lots, missing

    def totals(self) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        result: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        for (_account, asset), pool in self._pools.items():
            known_units, known_cost, unknown_units = result.get(asset, (ZERO, ZERO, ZERO))
            result[asset] = (
                known_units + pool.known_units,
                known_cost + pool.known_cost,
                unknown_units + pool.unknown_units,
            )
        return result

    def trim(self, asset: str, units: Decimal) -> Removed:
        """Unknown-basis units first (by account name), then known units from every pool in
        proportion to its known units (at each pool's average cost)."""
        pools = [pool for (_a, name), pool in sorted(self._pools.items()) if name == asset]
        known_units = known_cost = unknown_units = ZERO
        need = units
        for pool in pools:
            take = min(pool.unknown_units, need)
            pool.unknown_units -= take
            unknown_units += take
            need -= take
        all_known = total(pool.known_units for pool in pools)
        if need > ZERO and all_known > ZERO:
            share = min(need, all_known)
            for pool in pools:
                if pool.known_units == ZERO:
                    continue
                take = (
                    pool.known_units
                    if share == all_known
                    else prorate(pool.known_units, share, all_known)
                )
                cost = (
                    pool.known_cost
                    if take == pool.known_units
                    else prorate(pool.known_cost, take, pool.known_units)
                )
                pool.known_units -= take
                pool.known_cost -= cost
                known_units += take
                known_cost += cost
            need -= share
        return known_units, known_cost, unknown_units, need
