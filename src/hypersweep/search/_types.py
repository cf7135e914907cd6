"""Array type shared by the search modules' annotations."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy.typing as npt

#: a numpy array of any shape and dtype (shapes are documented where they matter)
Array: TypeAlias = npt.NDArray[Any]
