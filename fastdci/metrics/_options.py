"""Typed option declarations and the one checker every metric's options go through.

An :class:`Option` declares a name, a type, a default, the allowed values or range, a one-line
doc, and the stage that uses it (``"statistics"`` or ``"finalize"``). :func:`check_options`
turns a user's keyword arguments into the full, checked option dict, or raises one line that
names the problem and the fix (with the closest valid name for a typo).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InvalidInputError

__all__ = ["Option", "check_options"]

_KINDS = {"int", "float", "str", "bool", "estimator"}


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a metric.

    ``kind`` is ``"int"``, ``"float"``, ``"str"``, ``"bool"`` or ``"estimator"`` (a name from
    ``choices`` or an object with ``fit``); ``nullable`` admits ``None``; ``low``/``high``
    bound numbers (``low_open``/``high_open``: strictly inside); ``when`` = ``(other option, values)``
    makes the option valid only while that other option takes one of ``values``; such an option
    is passed on only when given (its default is the estimator's own, documented here).
    """

    name: str
    kind: str
    default: Any
    doc: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False
    stage: str = "statistics"
    when: tuple | None = None

    def __post_init__(self):
        assert self.kind in _KINDS, self.kind
        assert self.stage in ("statistics", "finalize"), self.stage

    def describe(self) -> str:
        """``name: kind = default`` plus the allowed values, as ``fastdci metrics`` lists it."""
        kind = self.kind + (" or None" if self.nullable else "")
        if self.choices:
            allowed = " {" + ", ".join(map(str, self.choices)) + "}"
        else:
            bounds = self._bounds()
            allowed = f" ({bounds})" if bounds else ""
        return f"{self.name}: {kind} = {self.default!r}{allowed}"

    def check(self, metric: str, value: Any) -> Any:
        """``value`` converted to the option's type, or one clear :class:`InvalidInputError`."""
        if value is None and (self.nullable or self.default is None):
            return None
        where = f"{metric} option {self.name}"
        if self.kind == "estimator":
            if isinstance(value, str):
                if value.lower() not in self.choices:
                    raise InvalidInputError(
                        f"{where} must be one of {', '.join(map(repr, self.choices))} or an estimator "
                        f"with fit/score/feature_importances_; got {value!r}."
                    )
                return value.lower()
            if not hasattr(value, "fit"):
                raise InvalidInputError(
                    f"{where} must be one of {', '.join(map(repr, self.choices))} or an estimator with "
                    f"fit(); got {type(value).__name__}."
                )
            return value
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise InvalidInputError(f"{where} must be True or False; got {value!r}.")
            return bool(value)
        if self.kind == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise InvalidInputError(
                    f"{where} must be one of {', '.join(map(repr, self.choices))}; got {value!r}."
                )
            return value
        if self.kind == "int":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise InvalidInputError(f"{where} must be an integer{self._range()}; got {value!r}.")
            value = int(value)
        else:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise InvalidInputError(f"{where} must be a real number{self._range()}; got {value!r}.")
            value = float(value)
            if not math.isfinite(value):
                raise InvalidInputError(f"{where} must be finite{self._range()}; got {value!r}.")
        if self.choices and value not in self.choices:
            raise InvalidInputError(f"{where} must be one of {list(self.choices)}; got {value!r}.")
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            what = " an integer" if self.kind == "int" else ""
            raise InvalidInputError(f"{where} must be{what}{self._range()}; got {value!r}.")
        return value

    def _bounds(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"> {self.low}" if self.low_open else f">= {self.low}")
        if self.high is not None:
            parts.append(f"< {self.high}" if self.high_open else f"<= {self.high}")
        return " and ".join(parts)

    def _range(self) -> str:
        text = self._bounds()
        return f" {text}" + (" (or None)" if self.nullable else "") if text else ""


def check_options(metric: str, options: Sequence[Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``given`` against ``options``; return every applicable option with its value.

    Unknown names raise with the valid names and the closest match; an option whose ``when``
    condition does not hold (``max_depth`` with ``regressor="logistic"``) raises too. Options
    with a condition are in the result only when given.
    """
    by_name = {o.name: o for o in options}
    unknown = [k for k in given if k not in by_name]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(by_name), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InvalidInputError(
            f"{metric} has no option {name!r}.{hint} Its options: {', '.join(by_name) or 'none'} "
            "(`fastdci metrics` lists them with their defaults)."
        )
    out: dict[str, Any] = {}
    for opt in options:  # options without a condition first, so conditions can read them
        if opt.when is None:
            out[opt.name] = opt.check(metric, given[opt.name]) if opt.name in given else opt.default
    for opt in options:
        if opt.when is None:
            continue
        other, values = opt.when
        current = out.get(other)
        applies = current in values if isinstance(current, str) else False
        if opt.name in given:
            if not applies:
                if current is not None and not isinstance(current, str):
                    fix = f"was given together with an estimator instance as {other}; set it on the instance instead."
                else:
                    fix = (f"applies only with {other} in {list(values)}; {other} is {current!r}. Drop {opt.name} "
                           f"or set {other} accordingly.")
                raise InvalidInputError(f"{metric} option {opt.name} {fix}")
            out[opt.name] = opt.check(metric, given[opt.name])
    return out
