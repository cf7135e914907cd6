"""Reading a sweep config from a YAML or JSON file, a dict, or a zero-argument callable
(spec §2.1), with YAML 1.1 semantics (PyYAML ``safe_load``) so a file means what it means to W&B."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union

import yaml

from hypersweep.config._issues import IssueList, describe
from hypersweep.config._limits import MAX_DEPTH, limit_issues
from hypersweep.errors import ConfigIssue

__all__ = ["ConfigSource", "load_source"]

_TOO_DEEP = (
    f"Error in configuration file: it nests mappings and lists too deep to read; a sweep "
    f"config may nest at most {MAX_DEPTH} levels"
)

#: What every entry point accepts as a sweep config.
ConfigSource = Union[Mapping[str, Any], str, "os.PathLike[str]", Callable[[], Mapping[str, Any]]]


def load_source(source: Any) -> tuple[Any, list[ConfigIssue]]:
    """The raw config, or None and the issues that prevented reading it.

    A ``str`` or path is a file: ``.json`` is read as JSON, anything else as YAML. A config
    past the size limits (``_limits.py``: too deep, too big, a YAML alias bomb) is refused here,
    before anyone walks or serializes it.
    """
    raw, issues = _load(source)
    if raw is not None and not issues:
        too_big = limit_issues(raw)
        if too_big:
            return None, too_big
    return raw, issues


def _load(source: Any) -> tuple[Any, list[ConfigIssue]]:
    issues = IssueList()
    if isinstance(source, Mapping):
        return dict(source), []
    if isinstance(source, (str, os.PathLike)):
        return _load_file(Path(source), issues), issues.items
    if callable(source):
        result = source()
        if not isinstance(result, Mapping):
            issues.error(
                "",
                f"the config function returned {type(result).__name__} {describe(result)}; "
                "it must return a dict",
            )
            return None, issues.items
        return dict(result), []
    issues.error(
        "",
        f"a sweep config is a dict, a zero-argument function returning a dict, or the path of "
        f"a YAML or JSON file; got {type(source).__name__}",
    )
    return None, issues.items


def _load_file(path: Path, issues: IssueList) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        issues.error("", f"Couldn't open sweep file: {path} ({reason})")
        return None
    if path.suffix.lower() == ".json":
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            issues.error(
                "",
                f"Error in configuration file: line {exc.lineno}, column {exc.colno}: {exc.msg}",
            )
            return None
        except RecursionError:
            issues.error("", _TOO_DEEP)
            return None
    else:
        try:
            loaded = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            issues.error("", f"Error in configuration file: {_yaml_problem(exc)}")
            return None
        except yaml.YAMLError as exc:
            issues.error("", f"Error in configuration file: {exc}")
            return None
        except RecursionError:  # PyYAML's composer recurses once per level
            issues.error("", _TOO_DEEP)
            return None
    if loaded is None:
        issues.error("", "Configuration file is empty; write at least method and parameters")
        return None
    return loaded


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    parts = [part for part in (exc.context, exc.problem) if part]
    return where + ("; ".join(parts) or str(exc))
