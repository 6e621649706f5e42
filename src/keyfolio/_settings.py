"""How :class:`keyfolio.config.Settings` reads and checks its values (private to ``config``).

A setting is a dataclass field: its type says how a value is read (a ``KEYFOLIO_*`` string, or
a keyword argument of that type or a string) and its metadata (:func:`setting`) holds its
bounds. :func:`read_settings` returns every field's value, or raises one ``ConfigError`` that
lists every problem, each under the variable it came from.

Plain Python on purpose: pydantic cost every command 0.1-0.15 s of start-up
(docs/benchmarks.md).
"""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import TypeVar, Union, get_args, get_origin, get_type_hints

from keyfolio.errors import ConfigError

__all__ = ["ENV_PREFIX", "Secret", "read_settings", "setting"]

ENV_PREFIX = "KEYFOLIO_"
_NESTED = "__"
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_T = TypeVar("_T")


class Secret:
    """A text that never shows itself: ``repr`` and ``str`` mask it, so a ``Settings`` can be
    logged or printed; :meth:`get_secret_value` reads it (pydantic's ``SecretStr`` name)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # constant time; hashlib is not needed at start-up

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class _Bounds:
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` (already of the field's type), or None."""
        if isinstance(value, str):
            size, least, most = len(value), self.min_length, self.max_length
            if least is not None and size < least:
                return f"must have at least {least} character{'s' * (least != 1)}, not {size}"
            if most is not None and size > most:
                return f"must have at most {most} characters, not {size}"
        elif isinstance(value, int | float):
            shown = int(value) if isinstance(value, float) and value.is_integer() else value
            if self.ge is not None and value < self.ge:
                return f"must be at least {self.ge}, not {shown}"
            if self.gt is not None and value <= self.gt:
                return f"must be greater than {self.gt}, not {shown}"
            if self.le is not None and value > self.le:
                return f"must be at most {self.le}, not {shown}"
        return None


def setting(
    default: _T,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    repr: bool = True,
) -> _T:
    """A field with a default and bounds (``ge``/``gt``/``le`` for numbers, ``min_length``/
    ``max_length`` for text), checked for keyword arguments and the environment alike;
    ``repr=False`` keeps a value that may hold a password (a URL) out of ``repr()``."""
    bounds = _Bounds(ge=ge, gt=gt, le=le, min_length=min_length, max_length=max_length)
    made: _T = field(default=default, repr=repr, metadata={"bounds": bounds})
    return made


class _Refused(ValueError):
    """A value a setting cannot take; the message says why (the variable is added later)."""


def _shown(value: object) -> str:
    if value == "":
        return "an empty value"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Refused(f"must be true or false (or yes/no, on/off, 1/0), not {_shown(value)}")


def _to_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value)
    raise _Refused(f"must be a whole number, not {_shown(value)}")


def _to_float(value: object) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None:
        raise _Refused(f"must be a number, not {_shown(value)}")
    if not math.isfinite(number):
        raise _Refused(f"must be a finite number, not {_shown(value)}")
    return number


def _to_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise _Refused(f"must be text, not {type(value).__name__}")


def _to_path(value: object) -> Path:
    if isinstance(value, str) and not value.strip():
        raise _Refused("must be a path, not an empty value")
    if isinstance(value, str | Path):
        return Path(value).expanduser()
    raise _Refused(f"must be a path, not {type(value).__name__}")


def _to_secret(value: object) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value)
    raise _Refused(f"must be text, not {type(value).__name__}")


def _to_text_dict(value: object) -> dict[str, str]:
    if isinstance(value, str):  # the whole dict in one variable, as JSON
        try:
            value = json.loads(value)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise _Refused('must be a JSON object, such as {"eea": "https://..."}')
    if not isinstance(value, dict):
        raise _Refused(f"must be a dict, not {type(value).__name__}")
    wrong = sorted(str(key) for key, text in value.items() if not isinstance(text, str))
    if wrong or not all(isinstance(key, str) for key in value):
        raise _Refused(f"every value must be text, and {', '.join(wrong) or 'a key'} is not")
    return dict(value)


_READERS: dict[object, Callable[[object], object]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    Path: _to_path,
    Secret: _to_secret,
    dict: _to_text_dict,
}


@dataclass(frozen=True)
class _Field:
    name: str
    read: Callable[[object], object]
    optional: bool
    is_dict: bool
    bounds: _Bounds
    default: Callable[[], object]

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def value(self, raw: object) -> object:
        if raw is None and self.optional:
            return None
        if raw is None:
            raise _Refused("must be set, not None")
        value = self.read(raw)
        problem = self.bounds.problem(value)
        if problem is not None:
            raise _Refused(problem)
        return value


def _constant(value: object) -> Callable[[], object]:
    return lambda: value


def _described(cls: type) -> dict[str, _Field]:
    """Each field of the dataclass ``cls``: how to read it, its bounds and its default."""
    hints = get_type_hints(cls)
    described: dict[str, _Field] = {}
    for spec in fields(cls):
        hint = hints[spec.name]
        args = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
        kind = [arg for arg in args if arg is not type(None)]
        [base] = kind
        base = get_origin(base) or base
        if spec.default is not MISSING:
            default: Callable[[], object] = _constant(spec.default)
        else:
            default = spec.default_factory  # type: ignore[assignment]
        described[spec.name] = _Field(
            name=spec.name,
            read=_READERS[base],
            optional=len(kind) < len(args),
            is_dict=base is dict,
            bounds=spec.metadata.get("bounds", _Bounds()),
            default=default,
        )
    return described


_FIELDS: dict[type, dict[str, _Field]] = {}


def _environ(
    described: Mapping[str, _Field], environ: Mapping[str, str]
) -> tuple[dict[str, tuple[str, object]], list[tuple[str, str, str]]]:
    """The ``KEYFOLIO_*`` values of the fields, as ``{field: (variable, value)}``, and the
    problems found while reading them, as ``(field, variable, message)``.

    Names are matched in any case. A dict field takes a JSON object
    (``KEYFOLIO_OKX_HOSTS='{"eea": "https://..."}'``) and single keys
    (``KEYFOLIO_OKX_HOSTS__EEA=https://...``, the key lower-cased), the keys winning.
    """
    found: dict[str, tuple[str, object]] = {}
    keys: dict[str, list[tuple[str, str, str]]] = {}
    problems: list[tuple[str, str, str]] = []
    for variable, value in environ.items():
        lowered = variable.lower()
        if not lowered.startswith(ENV_PREFIX.lower()):
            continue
        name, nested, key = lowered[len(ENV_PREFIX) :].partition(_NESTED)
        spec = described.get(name)
        if spec is None or (nested and not spec.is_dict):
            continue  # not a setting (KEYFOLIO_PASSWORD, ...)
        if nested and (not key or _NESTED in key):
            message = f"must name one key, as {spec.variable}__<KEY>=value"
            problems.append((name, variable, message))
        elif nested:
            keys.setdefault(name, []).append((variable, key, value))
        elif name in found and found[name][1] != value:
            message = f"is set twice, as {found[name][0]} too, to another value"
            problems.append((name, variable, message))
        else:
            found[name] = (variable, value)
    for name, entries in keys.items():
        variable, whole = found.get(name, (entries[0][0], "{}"))
        try:
            merged = _to_text_dict(whole)
        except _Refused as exc:
            problems.append((name, variable, str(exc)))
            continue
        merged.update({key: value for _, key, value in entries})
        found[name] = (variable, merged)
    return found, problems


def read_settings(
    cls: type, values: Mapping[str, object], environ: Mapping[str, str]
) -> dict[str, object]:
    """Every field of ``cls``: from ``values`` (keyword arguments), else ``environ``, else its
    default. Raises ``ConfigError`` naming each variable whose value is refused, and
    ``TypeError`` for a keyword that is not a setting (a bug)."""
    described = _FIELDS.get(cls)
    if described is None:
        described = _FIELDS[cls] = _described(cls)
    unknown = sorted(set(values) - set(described))
    if unknown:
        raise TypeError(f"{cls.__name__}() got unknown settings: {', '.join(unknown)}")
    from_env, env_problems = _environ(described, environ)
    problems = [
        (variable, message) for name, variable, message in env_problems if name not in values
    ]
    read: dict[str, object] = {}
    for name, spec in described.items():
        if name in values:
            variable, raw = spec.variable, values[name]
        elif name in from_env:
            variable, raw = from_env[name]
        else:
            read[name] = spec.default()
            continue
        try:
            read[name] = spec.value(raw)
        except _Refused as exc:
            problems.append((variable, str(exc)))
    if problems:
        listed = "; ".join(f"{variable}: {message}" for variable, message in problems)
        those = "that environment variable" if len(problems) == 1 else "those environment variables"
        raise ConfigError(
            f"invalid setting: {listed}",
            hint=f"Fix or unset {those} (see the README's Configuration).",
        )
    return read
