"""Size limits of a sweep config, checked before anything else walks it.

Every later step (the JSON-value check, ``parse_parameters``, the stored copy, the JSON sent to
the server) walks the config recursively and in full. A hostile or broken config must not reach
them: one nested thousands of levels deep overflows Python's stack, and a YAML alias bomb
("billion laughs": ``b: &b [*a, *a, ...]`` nine levels down) loads as a few dozen shared lists
whose expansion has 10**9 nodes. So this walk is iterative, visits each distinct object once
(aliases are one object under several keys: their sizes are counted, not re-walked), and stops
as soon as a limit is passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypersweep.config._issues import IssueList
from hypersweep.errors import ConfigIssue

__all__ = ["MAX_DEPTH", "MAX_PARAMETERS", "MAX_SIZE", "limit_issues"]

#: Levels of mappings and lists inside each other (``parameters.opt.parameters.lr.values[0]``
#: is 5): real configs use under 10, and every recursive step afterwards stays far from
#: Python's stack limit.
MAX_DEPTH = 32
#: Keys and values in the whole config, aliases counted as often as they are used.
MAX_SIZE = 100_000
#: Leaf parameters (what each run gets a value for).
MAX_PARAMETERS = 10_000

# A path as a linked list (parent, key): built for free while walking, joined only for an issue.
_Path = tuple[Any, Any] | None


class _Walk:
    """One pass over the distinct containers of a config: each one's expanded size and height."""

    def __init__(self) -> None:
        self.size: dict[int, int] = {}  # id -> keys and values below it, aliases expanded
        self.height: dict[int, int] = {}  # id -> levels below it
        self.visits = 0  # child references seen: bounds the walk itself

    def run(self, root: Any, issues: IssueList) -> bool:
        """Measure ``root``; False, with an issue, at the first limit passed."""
        open_ids: set[int] = set()
        stack: list[tuple[Any, int, _Path, bool]] = [(root, 0, None, False)]
        while stack:
            node, depth, path, done = stack.pop()
            key = id(node)
            if done:
                self._finish(node)
                open_ids.discard(key)
                continue
            if key in self.height:  # an alias of a container measured already
                if depth + self.height[key] > MAX_DEPTH:
                    return _too_deep(path, issues)
                continue
            if key in open_ids:  # an alias inside its own anchor: an endless structure
                issues.error(
                    _render(path),
                    "this value contains itself (a YAML alias *name inside the &name anchor it "
                    "refers to); write the value out instead of referring to it",
                )
                return False
            children = _children(node)
            if children and depth + 1 > MAX_DEPTH:
                return _too_deep(path, issues)
            open_ids.add(key)
            stack.append((node, depth, path, True))
            for label, child in children:
                self.visits += 1
                if _is_container(child):
                    stack.append((child, depth + 1, (path, label), False))
            if self.visits > MAX_SIZE:
                return _too_big(root, None, issues, path)
        return True

    def _finish(self, node: Any) -> None:
        size = 0
        height = 0
        for _, child in _children(node):
            if _is_container(child):
                size += self.size[id(child)]
                height = max(height, self.height[id(child)])
            size += 1
        if isinstance(node, Mapping):
            size += len(node)  # the keys
        self.size[id(node)] = size
        self.height[id(node)] = height + 1 if size else 0

    def expanded(self, node: Any) -> int:
        return self.size.get(id(node), 0) + 1


def limit_issues(raw: Any) -> list[ConfigIssue]:
    """The limits ``raw`` passes (as issues); empty when it is within all of them.

    Cheap on any input: at most ``MAX_SIZE`` references are visited.
    """
    issues = IssueList()
    walk = _Walk()
    if not walk.run(raw, issues):
        return issues.items
    if walk.expanded(raw) - 1 > MAX_SIZE:
        _too_big(raw, walk, issues)
        return issues.items
    if isinstance(raw, Mapping):
        count = _count_parameters(raw.get("parameters"))
        if count > MAX_PARAMETERS:
            issues.error(
                "parameters",
                f"{count:,} parameters is more than the {MAX_PARAMETERS:,} a sweep may search; "
                "search fewer parameters (fix the others with value: ...) or split the sweep",
            )
    return issues.items


def _count_parameters(block: Any) -> int:
    """Leaf parameters under ``block`` (nested ``parameters:`` blocks expanded); only called
    once the config's size is within ``MAX_SIZE``, which bounds this walk too."""
    count = 0
    blocks = [block]
    while blocks:
        current = blocks.pop()
        if not isinstance(current, Mapping):
            continue
        for spec in current.values():
            if isinstance(spec, Mapping) and "parameters" in spec:
                blocks.append(spec["parameters"])
            else:
                count += 1
    return count


def _children(node: Any) -> list[tuple[Any, Any]]:
    if isinstance(node, Mapping):
        return list(node.items())
    if isinstance(node, list):
        return list(enumerate(node))
    return []


def _is_container(value: Any) -> bool:
    return isinstance(value, (Mapping, list))


def _render(path: _Path) -> str:
    parts: list[str] = []
    while path is not None:
        path, label = path
        parts.append(f"[{label}]" if isinstance(label, int) else str(label))
    text = ""
    for part in reversed(parts):
        text += part if part.startswith("[") or not text else "." + part
    return text


def _too_deep(path: _Path, issues: IssueList) -> bool:
    issues.error(
        _render(path),
        f"the config nests more than {MAX_DEPTH} levels of mappings and lists here; flatten "
        f"it (fewer nested parameters: blocks) to at most {MAX_DEPTH} levels",
    )
    return False


def _too_big(root: Any, walk: _Walk | None, issues: IssueList, inside: _Path = None) -> bool:
    """Name the top-level key holding the most (nearly always parameters); in a walk stopped
    early, the top-level key it was in."""
    where = ""
    if isinstance(root, Mapping) and walk is not None and root:
        where = str(max(root, key=lambda name: walk.expanded(root[name])))
    elif isinstance(root, Mapping) and inside is not None:
        while inside[0] is not None:
            inside = inside[0]
        where = str(inside[1])
    issues.error(
        where,
        f"the config holds more than {MAX_SIZE:,} keys and values (YAML aliases counted each "
        "time they are used); make it smaller: fewer parameters or values, or a distribution "
        "(min/max) instead of a long values list",
    )
    return False
