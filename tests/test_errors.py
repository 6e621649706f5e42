import inspect

import pytest

from keyfolio import errors


def all_error_classes() -> list[type[errors.KeyfolioError]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.KeyfolioError)
    ]


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_has_a_specific_hint_and_code(cls: type[errors.KeyfolioError]) -> None:
    exc = cls("something happened")
    assert exc.hint and exc.hint.strip()
    assert exc.code and exc.code != "error" or cls is errors.KeyfolioError
    assert str(exc) == "something happened"
    assert cls.__name__.endswith("Error")


def test_hint_can_be_overridden() -> None:
    assert errors.ExchangeError("x", hint="do y").hint == "do y"


def test_exit_codes() -> None:
    assert errors.ConfigError("x").exit_code == 2
    assert errors.SandboxStateError("x").exit_code == 2
    assert errors.VaultDecryptError("x").exit_code == 2
    assert errors.UsageError("x").exit_code == 2
    assert errors.ExchangeError("x").exit_code == 1
    assert errors.StorageError("x").exit_code == 1


def test_all_lists_every_class() -> None:
    names = {cls.__name__ for cls in all_error_classes()}
    assert names == set(errors.__all__)
    assert errors.__all__ == sorted(errors.__all__)


def test_docstring_tree_names_every_class() -> None:
    doc = errors.__doc__ or ""
    for cls in all_error_classes():
        assert cls.__name__ in doc, cls.__name__


def test_exit_codes_of_the_machines_problems() -> None:
    for cls in (
        errors.StorageUnavailableError,
        errors.DataDirError,
        errors.DiskFullError,
        errors.DatabaseLockedError,
        errors.SchemaOutdatedError,
        errors.VaultVersionError,
    ):
        assert cls("x").exit_code == 2, cls.__name__
    assert errors.InternalError("x").exit_code == 1
    assert issubclass(errors.VaultVersionError, errors.VaultCorruptError)


def test_internal_error_names_the_bug() -> None:
    error = errors.InternalError.from_bug(KeyError("asset"), doing="syncing 'bob'")
    assert error.message == "bug in keyfolio while syncing 'bob': KeyError: 'asset'"
    assert "bug in keyfolio" in error.hint and "log file" in error.hint
