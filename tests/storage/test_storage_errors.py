"""Error translation and the shape of the Store API."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import exc as sa_exc

from keyfolio.errors import ConflictError, StorageError
from keyfolio.storage import Store
from keyfolio.storage._errors import translate_errors


class _DriverError(Exception):
    pass


def _sa(kind: type[sa_exc.DBAPIError], message: str) -> sa_exc.DBAPIError:
    return kind("INSERT INTO x VALUES (?)", {"secret": "param"}, _DriverError(message))


def test_integrity_error_becomes_conflict() -> None:
    with pytest.raises(ConflictError) as caught, translate_errors("db"):
        raise _sa(sa_exc.IntegrityError, "UNIQUE constraint failed: accounts.name")
    assert "accounts.name" in caught.value.message
    assert isinstance(caught.value.__cause__, sa_exc.IntegrityError)


@pytest.mark.parametrize(
    ("message", "expected_hint"),
    [
        ("database is locked", "Another keyfolio process"),
        ("attempt to write a readonly database", "writable"),
        ("unable to open database file", "writable"),
        ("disk I/O error", "writable"),
    ],
)
def test_operational_errors_become_storage_errors(message: str, expected_hint: str) -> None:
    with pytest.raises(StorageError) as caught, translate_errors("sqlite:///x.db"):
        raise _sa(sa_exc.OperationalError, message)
    assert message in caught.value.message
    assert "sqlite:///x.db" in caught.value.message
    assert expected_hint in caught.value.hint
    assert "param" not in caught.value.message  # no statement parameters in messages


def test_other_sqlalchemy_errors_become_storage_errors() -> None:
    with pytest.raises(StorageError, match="failed"), translate_errors("db"):
        raise sa_exc.InvalidRequestError("something odd")


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), translate_errors("db"):
        raise KeyError("x")


def test_every_store_method_takes_keyword_only_arguments() -> None:
    public = [
        (name, member)
        for name, member in inspect.getmembers(Store, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert len(public) >= 18
    for name, method in public:
        parameters = list(inspect.signature(method).parameters.values())[1:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), name
        assert method.__doc__, name
