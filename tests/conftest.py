"""Suite-wide settings."""

from __future__ import annotations

import os

# One BLAS thread: on a shared 2-core machine, OpenBLAS's threads make scipy's small
# factorisations and L-BFGS-B 10-100x slower (measured with the bayes tests). Set before numpy
# is imported by any test module.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
