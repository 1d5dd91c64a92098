"""One way to read a config dataclass from a mapping (YAML, JSON, CLI options), driven by its field types.

``from_mapping(DSPParams, data, what="DSP voice-stage parameters", error=ProfileError)`` reads the
dataclass' fields and type hints, coerces each value to its field's type (``float``, ``int``, ``str``,
``bool``, ``Path``, ``X | None``, ``list[X]``, ``tuple[X, ...]``, ``dict[K, V]``, nested dataclasses),
refuses unknown keys (or ignores them, ``unknown="ignore"``) and names every missing required field.
Every problem raises ``error`` (a :class:`~edge_vc.errors.ConfigError`; profiles pass ``ProfileError``,
voice configs ``VoiceConfigError``) with a message that starts ``invalid {what}:``. The object's own
``validate()`` (value ranges) runs last.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, Union

from edge_vc.errors import ConfigError

T = TypeVar("T")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class _WrongType(Exception):
    """A value that cannot become its field's type (turned into ``error`` with the field's path)."""


def _wrong(where: str, expected: str, value: Any) -> _WrongType:
    shown = type(value).__name__ if isinstance(value, (Mapping, list, tuple, set)) else repr(value)
    return _WrongType(f"{where} has the wrong type: expected {expected}, got {shown}")


def from_mapping(
    cls: type[T],
    data: Any,
    *,
    what: str | None = None,
    error: type[ConfigError] = ConfigError,
    unknown: str = "reject",
    validate: bool = True,
) -> T:
    """An instance of the dataclass ``cls`` built from ``data``; ``error`` for anything unusable.

    ``unknown``: ``"reject"`` (unknown keys are an error) or ``"ignore"`` (they are dropped).
    ``validate``: call ``obj.validate()`` when the class has one.
    """
    if unknown not in ("reject", "ignore"):
        raise ValueError(f"unknown must be 'reject' or 'ignore', got {unknown!r}")
    what = what or f"{cls.__name__} settings"
    try:
        obj = _build(cls, data, "", unknown)
    except _WrongType as exc:
        raise error(f"invalid {what}: {exc}") from exc
    if validate and callable(getattr(obj, "validate", None)):
        obj.validate()
    return obj


def to_mapping(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict`` with plain types only: paths become strings, tuples lists."""
    return _plain(dataclasses.asdict(obj))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    """Field types; a hint that cannot be resolved here (a ``TYPE_CHECKING``-only name) is taken as Any."""
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):
        hints: dict[str, Any] = {}
        namespace = vars(sys.modules[cls.__module__])
        for f in fields(cls):
            try:
                hints[f.name] = eval(f.type, namespace) if isinstance(f.type, str) else f.type
            except Exception:  # unresolvable here: no coercion for this field
                hints[f.name] = Any
        return hints


def _build(cls: type, data: Any, where: str, unknown: str) -> Any:
    if not isinstance(data, Mapping):
        if not where:
            raise _WrongType(f"expected a mapping, got {type(data).__name__}")
        raise _wrong(where, "a mapping", data)
    hints = _hints(cls)
    init = [f for f in fields(cls) if f.init]
    names = {f.name for f in init}
    extra = sorted(str(k) for k in data if k not in names)
    if extra and unknown == "reject":
        raise _WrongType(f"unknown keys{_at(where)}: {', '.join(extra)}")
    missing = [
        f.name
        for f in init
        if f.name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise _WrongType(f"missing required keys{_at(where)}: {', '.join(_join(where, m) for m in missing)}")
    values = {
        f.name: _coerce(data[f.name], hints.get(f.name, Any), _join(where, f.name), unknown)
        for f in init
        if f.name in data
    }
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # a __post_init__ refusing the values
        raise _WrongType(f"{where or cls.__name__}: {exc}") from exc


def _at(where: str) -> str:
    return f" in {where}" if where else ""


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _coerce(value: Any, tp: Any, where: str, unknown: str) -> Any:
    """``value`` as type ``tp``; _WrongType naming ``where`` when it cannot be."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        problems = []
        for option in options:
            try:
                return _coerce(value, option, where, unknown)
            except _WrongType as exc:
                problems.append(str(exc))
        raise _WrongType(problems[0] if len(problems) == 1 else f"{where}: {value!r} fits none of its types")
    if origin is typing.Literal:
        if value not in args:
            raise _WrongType(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin is None and tp in (list, tuple, set, frozenset, dict):
        origin = tp
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise _wrong(where, "a list", value)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise _wrong(where, f"{len(args)} items", value)
            pairs = enumerate(zip(value, args, strict=True))
            return tuple(_coerce(v, a, f"{where}[{i}]", unknown) for i, (v, a) in pairs)
        item = args[0] if args else Any
        return origin(_coerce(v, item, f"{where}[{i}]", unknown) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _wrong(where, "a mapping", value)
        key_type, value_type = args if args else (Any, Any)
        return {
            _coerce(k, key_type, f"{where} key {k!r}", unknown): _coerce(v, value_type, f"{where}.{k}", unknown)
            for k, v in value.items()
        }
    if isinstance(tp, type) and is_dataclass(tp):
        return _build(tp, value, where, unknown)
    if tp is bool:
        return _bool(value, where)
    if tp is int:
        return _int(value, where)
    if tp is float:
        return _float(value, where)
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # YAML reads a name such as 123 as a number
        raise _wrong(where, "a string", value)
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise _wrong(where, "a path", value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        try:
            return tp(value)
        except (TypeError, ValueError) as exc:
            raise _wrong(where, tp.__name__, value) from exc
    return value


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise _wrong(where, "true or false", value)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise _wrong(where, "an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _wrong(where, "an integer", value)


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise _wrong(where, "a number", value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):  # YAML 1.1 reads 1e-5 (no dot) as a string
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _wrong(where, "a number", value)
