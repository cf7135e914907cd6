"""Which observations a GP sees once a sweep outgrows its cubic cost.

W&B's engine fits its GP on 100 observations drawn at random with replacement (spec §4.4.3
step 2), so a large sweep's best runs are usually left out and the incumbent the acquisition
improves on is not the real one. Here the points are chosen for what they tell the model:

1. the ``n_best`` best observations, which pin down the region expected improvement explores
   and include the true incumbent;
2. then, greedily, the observation farthest from every point chosen so far (farthest-point
   sampling, Gonzalez 1985), which covers the rest of the space so that the model still knows
   where it is bad.

The result is deterministic (ties go to the older run), so the same runs give the same model.
"""

from __future__ import annotations

import numpy as np

from hypersweep.search._types import Array

__all__ = ["informative_subset"]


def _sqdist_to(points: Array, centres: Array) -> Array:
    d2 = (
        (points * points).sum(1)[:, None]
        + (centres * centres).sum(1)[None, :]
        - 2.0 * (points @ centres.T)
    )
    return np.asarray(np.maximum(d2, 0.0))


def informative_subset(x: Array, y: Array, cap: int, n_best: int) -> Array:
    """Indices of at most ``cap`` rows: the ``n_best`` lowest ``y``, then farthest points.

    The best come first, in order of ``y``, then the space-filling points in the order they
    were picked; so any prefix of the spread part is itself well spread.
    """
    n = len(y)
    order = np.argsort(y, kind="stable")
    if n <= cap:
        return order
    best = order[:n_best]
    chosen = list(best)
    dmin = _sqdist_to(x, x[best]).min(axis=1)
    dmin[best] = -1.0
    for _ in range(cap - n_best):
        i = int(np.argmax(dmin))
        chosen.append(i)
        diff = x - x[i]
        dmin = np.minimum(dmin, np.einsum("ij,ij->i", diff, diff))
        dmin[i] = -1.0
    return np.array(chosen, dtype=int)
