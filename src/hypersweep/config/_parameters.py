"""Parsing ``parameters:``: distribution inference (spec §3.2), per-distribution checks (§3.3),
names (§3.4) and nested blocks (§3.5), each problem reported with its key path."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hypersweep.config._distributions import DISTRIBUTIONS, Distribution
from hypersweep.config._issues import (
    IssueList,
    describe,
    did_you_mean,
    is_finite_number,
    is_int,
    is_number,
    join_path,
    one_of,
)

__all__ = ["NAME_PATTERN", "Parameter", "parse_parameters"]

NAME_PATTERN = "^^[A-Za-z_][A-Za-z0-9_.-]*$"  # W&B's pattern, doubled caret and all
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

# Distributions whose min is a real value and so must be positive to take its log.
_NEEDS_POSITIVE_MIN = frozenset(
    {"log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"}
)
_NON_NEGATIVE = ("sigma",)
_POSITIVE = ("q", "a", "b")
_NUMERIC_KEYS = ("min", "max", "mu", "sigma", "q", "a", "b")


@dataclass(frozen=True)
class Parameter:
    """One leaf of the search space.

    ``path`` is the tuple of keys from the top-level name down through nested blocks
    (``("optimizer", "lr")``); a dotted name like ``model.depth`` is one key, not nesting.
    """

    path: tuple[str, ...]
    distribution: Distribution

    @property
    def name(self) -> str:
        """The path for display: keys joined with dots."""
        return ".".join(self.path)

    @property
    def key_path(self) -> str:
        """Where the spec sits in the config: ``parameters.opt.parameters.lr``."""
        return "parameters." + ".parameters.".join(self.path)


def parse_parameters(raw: Any, issues: IssueList) -> tuple[Parameter, ...]:
    """All leaves of ``parameters`` in canonical order (spec §3.5): depth first, keys sorted."""
    leaves: list[Parameter] = []
    _parse_block(raw, (), "parameters", issues, leaves)
    return tuple(leaves)


def _parse_block(
    raw: Any, prefix: tuple[str, ...], key_path: str, issues: IssueList, out: list[Parameter]
) -> None:
    if not isinstance(raw, Mapping):
        issues.error(
            key_path,
            f"expected a mapping of parameter names to specs, got {describe(raw)}; "
            "write e.g. `lr: {min: 0.0001, max: 0.1}`",
        )
        return
    if not raw:
        issues.error(key_path, "{} should be non-empty; add at least one parameter")
        return
    for key in sorted(raw, key=str):
        name = str(key)
        spec_path = join_path(key_path, name)
        if not isinstance(key, str) or not _NAME_RE.match(name):
            # YAML 1.1 reads on/off/yes/no (and true/false) as booleans, also as keys
            quote = (
                "; YAML read this name as a boolean: quote it, e.g. 'off':"
                if isinstance(key, bool)
                else ""
            )
            issues.warn(
                spec_path,
                f"{name!r} does not match {NAME_PATTERN!r}; names start with a letter or "
                f"underscore, then letters, digits, '_', '.' or '-' (the parameter is kept){quote}",
            )
        _parse_spec(raw[key], (*prefix, name), spec_path, issues, out)


def _parse_spec(
    spec: Any, path: tuple[str, ...], key_path: str, issues: IssueList, out: list[Parameter]
) -> None:
    if not isinstance(spec, Mapping):
        issues.error(
            key_path,
            f"expected a parameter spec mapping, got {describe(spec)}; write "
            f"`{{value: {spec!r}}}` for a constant or `{{values: [...]}}` for a choice",
        )
        return
    if "parameters" in spec:
        extra = sorted(str(k) for k in spec if k != "parameters")
        if extra:
            issues.error(
                key_path,
                f"a nested parameter block takes only 'parameters', but also has {extra}; "
                "move those keys inside 'parameters' or remove them",
            )
            return
        _parse_block(spec["parameters"], path, join_path(key_path, "parameters"), issues, out)
        return

    dist_name = _distribution_name(spec, path, key_path, issues)
    if dist_name is None:
        return
    distribution = _build(dist_name, spec, path, key_path, issues)
    if distribution is not None:
        out.append(Parameter(path, distribution))


def _distribution_name(
    spec: Mapping[str, Any], path: tuple[str, ...], key_path: str, issues: IssueList
) -> str | None:
    """The explicit distribution, or the one spec §3.2 infers; None after reporting why not."""
    if "distribution" in spec:
        name = spec["distribution"]
        if isinstance(name, str) and name in DISTRIBUTIONS:
            return name
        issues.error(
            join_path(key_path, "distribution"),
            f"unknown distribution {describe(name)}"
            + (did_you_mean(name, DISTRIBUTIONS) if isinstance(name, str) else "")
            + f"; use one of {one_of(DISTRIBUTIONS)}",
        )
        return None
    if "value" in spec and "values" in spec:
        issues.error(
            key_path,
            "has both 'value' (a constant) and 'values' (a choice); keep one of them",
        )
        return None
    if "values" in spec:
        return "categorical_w_probabilities" if "probabilities" in spec else "categorical"
    if "value" in spec:
        return "constant"
    has_min, has_max = "min" in spec, "max" in spec
    if has_min and has_max:
        low, high = spec["min"], spec["max"]
        if is_int(low) and is_int(high):
            return "int_uniform"
        if is_number(low) and is_number(high):
            if len(path) == 1 and (is_int(low) or is_int(high)):
                # spec §2.5 hard error #2 / §14 Q16: the W&B client refuses this at top level
                fix = f"write e.g. min: {float(low)!r}, max: {float(high)!r}"
                if low >= high:  # that fix alone would be refused next, for its order
                    fix = "and min must be below max: write e.g. "
                    fix += f"min: {float(high)!r}, max: {float(low)!r}"
                issues.error(
                    key_path,
                    f"Parameter {path[0]} is ambiguous, please specify bounds as both floats "
                    "(for a float_uniform distribution) or ints (for an int_uniform "
                    f"distribution). Got min {low!r} and max {high!r}; {fix}",
                )
                return None
            return "uniform"
        for bound in ("min", "max"):
            if not is_number(spec[bound]):
                issues.error(
                    join_path(key_path, bound),
                    f"{bound} must be a number, got {describe(spec[bound])}",
                )
        return None
    if has_min != has_max:
        given, missing = ("min", "max") if has_min else ("max", "min")
        issues.error(key_path, f"has '{given}' but no '{missing}'; give both bounds")
        return None
    keys = sorted(str(k) for k in spec)
    issues.error(
        key_path,
        f"cannot tell the distribution from keys {keys}; give 'values' (a choice), "
        "'value' (a constant), 'min' and 'max' (a range), 'parameters' (a nested block) "
        f"or 'distribution' (one of {one_of(DISTRIBUTIONS)})",
    )
    return None


def _build(
    dist_name: str,
    spec: Mapping[str, Any],
    path: tuple[str, ...],
    key_path: str,
    issues: IssueList,
) -> Distribution | None:
    cls = DISTRIBUTIONS[dist_name]
    before = len(issues.items)
    allowed = {"distribution", *cls.required, *cls.optional}
    unknown = sorted(str(k) for k in spec if k not in allowed)
    inferred = "distribution" not in spec
    how = f"{dist_name} (inferred)" if inferred else dist_name
    for key in unknown:
        hint = ""
        if key == "q" and dist_name in ("int_uniform", "uniform"):
            hint = "; to quantize a range, add `distribution: q_uniform`"
        elif key == "probabilities" and dist_name == "categorical":
            hint = "; remove `distribution: categorical` to weight the values"
        issues.error(
            join_path(key_path, key),
            f"unknown key {key!r} for {how}; allowed keys are {one_of(sorted(allowed))}"
            + did_you_mean(key, allowed)
            + hint,
        )
    for key in cls.required:
        if key not in spec:
            issues.error(key_path, f"{dist_name} needs {key!r}; add it")

    values = {key: spec[key] for key in spec if key in allowed and key != "distribution"}
    for key in _NUMERIC_KEYS:
        if key in values and not is_finite_number(values[key]):
            issues.error(
                join_path(key_path, key),
                f"{key} must be a finite number, got {describe(values[key])}",
            )
    if len(issues.items) > before:
        return None

    name = path[-1]
    _check_values(dist_name, values, name, key_path, issues)
    _check_bounds(dist_name, values, name, key_path, issues)
    for key in _POSITIVE:
        if key in values and values[key] <= 0:
            issues.error(join_path(key_path, key), f"{values[key]!r} must be greater than 0")
    for key in _NON_NEGATIVE:
        if key in values and values[key] < 0:
            issues.error(join_path(key_path, key), f"{values[key]!r} must not be negative")
    if any(issue.is_error for issue in issues.items[before:]):
        return None

    _warn_quirks(cls, values, name, key_path, issues)
    fields = dict(cls.optional)
    fields.update(values)
    if "values" in fields:
        fields["values"] = tuple(fields["values"])
    if "probabilities" in fields:
        fields["probabilities"] = tuple(float(p) for p in fields["probabilities"])
    return cls(**fields)


def _check_values(
    dist_name: str, values: Mapping[str, Any], name: str, key_path: str, issues: IssueList
) -> None:
    if "values" not in values:
        return
    choices = values["values"]
    if not isinstance(choices, list):
        issues.error(
            join_path(key_path, "values"),
            f"{describe(choices)} is not a list; write `values: [{choices!r}]` for one choice",
        )
        return
    if not choices:
        issues.error(join_path(key_path, "values"), "[] should be non-empty; list one or more")
        return
    if dist_name != "categorical_w_probabilities":
        return
    probabilities = values["probabilities"]
    prob_path = join_path(key_path, "probabilities")
    if not isinstance(probabilities, list) or not all(is_finite_number(p) for p in probabilities):
        issues.error(prob_path, f"{describe(probabilities)} must be a list of numbers")
        return
    if any(p < 0 for p in probabilities):
        issues.error(prob_path, f"{probabilities!r} has a negative probability")
    if len(probabilities) != len(choices):
        issues.error(
            prob_path,
            f"Parameter {name}: values {choices!r} and probabilities {probabilities!r} are not "
            "the same length; give one probability per value",
        )
    elif not bool(np.isclose(sum(probabilities), 1.0)):
        issues.error(
            prob_path,
            f"Parameter {name}: Probabilities {probabilities!r} do not sum to 1 "
            f"(they sum to {sum(probabilities):g}); scale them so they add up to 1",
        )


def _check_bounds(
    dist_name: str, values: Mapping[str, Any], name: str, key_path: str, issues: IssueList
) -> None:
    if "min" not in values or "max" not in values:
        return
    low, high = values["min"], values["max"]
    if dist_name == "int_uniform":
        for key in ("min", "max"):
            if not is_int(values[key]):
                issues.error(
                    join_path(key_path, key),
                    f"int_uniform needs integer bounds, got {values[key]!r}; write "
                    f"{key}: {math.floor(values[key]) if key == 'min' else math.ceil(values[key])}"
                    " or use distribution: uniform for real values",
                )
        if not (is_int(low) and is_int(high)):
            return
    if dist_name in _NEEDS_POSITIVE_MIN and low <= 0:
        issues.error(
            join_path(key_path, "min"),
            f"{dist_name} needs min > 0 because it samples on a log scale; got {low!r}. "
            "Use a small positive min such as 1.0e-8",
        )
    if not low < high:
        issues.error(
            key_path,
            f"{name}: min {low!r} is not less than max {high!r}; min must be below max",
        )


def _warn_quirks(
    cls: type[Distribution],
    values: Mapping[str, Any],
    name: str,
    key_path: str,
    issues: IssueList,
) -> None:
    if cls.deprecated_by:
        issues.warn(
            key_path,
            f"{name} uses {cls.name}, where min/max specify base-e exponents. Use "
            f"{cls.deprecated_by} to specify limit values.",
        )
    if cls.name == "q_uniform":
        low, q = values["min"], values.get("q", 1.0)
        if not math.isclose(low / q, round(low / q), abs_tol=1e-9):
            issues.warn(
                key_path,
                f"min {low!r} is not a multiple of q {q!r}: random and bayes sample multiples "
                "of q counted from 0, while grid counts from min (W&B does the same); make min "
                "a multiple of q to get the same values from both",
            )
    for key in ("value", "values"):
        items = values.get(key)
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, str) and describe(item) != repr(item):
                issues.warn(
                    join_path(key_path, key),
                    f"{describe(item)}; the program will receive the string",
                )
                break
