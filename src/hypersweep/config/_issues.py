"""Collecting config issues with their key paths, and the wording helpers they share."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from typing import Any, TypeGuard

from hypersweep.errors import ConfigIssue, Severity

# YAML 1.1 reads 1e-5 (no dot) as a string; this is what such strings look like (spec §2.1).
_NUMERIC_STRING = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class IssueList:
    """Every issue found in a config, in the order found."""

    def __init__(self) -> None:
        self.items: list[ConfigIssue] = []

    def error(self, path: str, message: str) -> None:
        self.items.append(ConfigIssue(path, message, Severity.ERROR))

    def warn(self, path: str, message: str) -> None:
        self.items.append(ConfigIssue(path, message, Severity.WARNING))

    @property
    def has_errors(self) -> bool:
        return any(issue.is_error for issue in self.items)


def join_path(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def is_number(value: Any) -> bool:
    """A JSON/YAML number: int or float but not bool (jsonschema's "number")."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


def looks_numeric(value: Any) -> bool:
    return isinstance(value, str) and bool(_NUMERIC_STRING.match(value.strip()))


def numeric_string_hint(value: Any) -> str:
    """The fix for a number that YAML loaded as a string, or '' when it is not one."""
    if not looks_numeric(value):
        return ""
    text = value.strip()
    mantissa, _, exponent = text.lower().partition("e")
    if exponent and "." not in mantissa:
        # spec §2.1, §13 #9: YAML 1.1 needs a dot in the mantissa to read an exponent as a float
        return (
            f" ({value!r} is a string: YAML 1.1 reads exponents without a dot as text; "
            f"write {mantissa}.0e{exponent} or !!float {value})"
        )
    if len(text.lstrip("+-")) > 1 and text.lstrip("+-")[0] == "0" and text.lstrip("+-")[1] != ".":
        return ""  # a leading zero ('008') is usually meant as text, as W&B keeps it
    return f" ({value!r} is a quoted string; write {text} without quotes for a number)"


def describe(value: Any) -> str:
    """A value as an error message shows it, with its type when that is the problem."""
    if isinstance(value, str):
        return repr(value) + numeric_string_hint(value)
    if isinstance(value, (dict, list)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return repr(value)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


def one_of(choices: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in choices)
