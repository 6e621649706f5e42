"""The read-only check is an allowlist: a key is stored only if every permission is a read one.

OKX's words come from ``/api/v5/account/config`` (``perm``), parsed by
:func:`keyfolio.exchanges.okx.key_info`; the allowlist is data next to the venue
(:data:`keyfolio.exchanges.okx.PERMISSION_WORDS`). The end-to-end refusal of a
``read_only,withdraw,trade`` key against the sandbox is in tests/cli and tests/api.
"""

from __future__ import annotations

import pytest

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import KeyInfo, PermissionWords
from keyfolio.errors import UnsafeKeyError
from keyfolio.exchanges.okx import PERMISSION_WORDS, key_info
from keyfolio.services.accounts import _key_warnings, refuse_unless_read_only
from keyfolio.services.doctor import _permission_check

OKX = AccountSpec("okx", "main")


def okx_key(perm: str) -> KeyInfo:
    return key_info({"perm": perm, "ip": "203.0.113.7", "uid": "42", "label": "tracker"})


GUIDE = "In the venue's API management create a read-only key."


def test_read_only_is_accepted() -> None:
    key = okx_key("read_only")
    assert key.is_read_only and key.refused_permissions == frozenset()
    refuse_unless_read_only(OKX, key)
    assert _key_warnings(OKX, key) == []
    assert _permission_check(key, GUIDE).status == "ok"


def test_an_unknown_permission_word_is_refused_and_named() -> None:
    key = okx_key("read_only,some_new_perm")
    assert not key.is_read_only and key.refused_permissions == {"some_new_perm"}
    with pytest.raises(UnsafeKeyError) as info:
        refuse_unless_read_only(OKX, key)
    assert "'some_new_perm' (unknown to keyfolio)" in info.value.message
    assert "'some_new_perm' is a permission keyfolio does not know" in info.value.hint
    assert "'read_only' (Read)" in info.value.hint
    check = _permission_check(key, GUIDE)
    assert check.status == "fail" and "some_new_perm" in check.detail
    assert check.hint is not None and check.hint.startswith(GUIDE)  # the venue's own guide


@pytest.mark.parametrize(
    ("perm", "named"),
    [
        ("read_only,trade", ["'trade' (Trade)"]),
        ("read_only,withdraw,trade", ["'trade' (Trade)", "'withdraw' (Withdraw)"]),
        ("withdraw", ["'withdraw' (Withdraw)"]),
    ],
)
def test_trade_and_withdraw_are_refused(perm: str, named: list[str]) -> None:
    with pytest.raises(UnsafeKeyError) as info:
        refuse_unless_read_only(OKX, okx_key(perm))
    for word in named:
        assert word in info.value.message
    assert "does not know" not in info.value.hint  # documented words
    assert "tick only 'Read'" in info.value.hint


def test_a_key_with_no_permission_at_all_is_refused() -> None:
    key = okx_key("")
    assert not key.is_read_only
    with pytest.raises(UnsafeKeyError, match="reported no permissions"):
        refuse_unless_read_only(OKX, key)
    assert _permission_check(key, GUIDE).status == "fail"


def test_generic_exchanges_are_not_verified_and_keep_their_warning() -> None:
    spec = AccountSpec("gate", "k")
    key = KeyInfo(permissions=frozenset(), verified=False)
    refuse_unless_read_only(spec, key)  # nothing to check against: not refused...
    (warning,) = _key_warnings(spec, key)  # ...but the user is told so
    assert "offers no permission check" in warning and "read permissions only" in warning
    assert _permission_check(key, GUIDE).status == "warn"
    assert not key.is_read_only  # never claimed read-only


def test_the_allowlist_is_data_of_the_venue() -> None:
    assert PERMISSION_WORDS.read == {"read_only"}
    assert set(PERMISSION_WORDS.labels) == {"read_only", "trade", "withdraw"}
    other = PermissionWords(read=frozenset({"view"}), labels={"view": "View"})
    key = KeyInfo(permissions=frozenset({"view"}), words=other)
    assert key.is_read_only
    with pytest.raises(ValueError, match="PermissionWords"):
        KeyInfo(permissions=frozenset({"read_only"}))  # verified without its venue's words
