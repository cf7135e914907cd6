"""hypersweep: self-hosted hyperparameter sweeps that speak W&B's sweep YAML.

The public surface grows with the client library; the engine is at ``hypersweep.engine``.
"""

from hypersweep.errors import (
    AuthError,
    ConfigError,
    ConfigIssue,
    ConflictError,
    HypersweepError,
    NotFoundError,
    ServerUnavailable,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "ConfigError",
    "ConfigIssue",
    "ConflictError",
    "HypersweepError",
    "NotFoundError",
    "ServerUnavailable",
    "StoreError",
    "__version__",
]
