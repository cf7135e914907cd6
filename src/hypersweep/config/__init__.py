"""W&B's sweep config, verbatim: loading, the schema, every distribution, command macros.

Method- and rule-specific checks live with the methods and rules; ``hypersweep.engine.validate``
runs all of them.
"""

from hypersweep.config._command import (
    DEFAULT_COMMAND,
    args_json_file_path,
    format_value,
    render_command,
    uses_macro,
)
from hypersweep.config._distributions import DISTRIBUTIONS, Distribution, value_key
from hypersweep.config._limits import limit_issues
from hypersweep.config._loading import ConfigSource, load_source
from hypersweep.config._parameters import Parameter
from hypersweep.config._schema import (
    GOALS,
    IMPUTE,
    IMPUTE_WHILE_RUNNING,
    Metric,
    RetryPolicy,
    SweepConfig,
    parse_config,
)
from hypersweep.config._space import MISSING, SearchSpace
from hypersweep.errors import ConfigIssue, Severity

__all__ = [
    "DEFAULT_COMMAND",
    "DISTRIBUTIONS",
    "GOALS",
    "IMPUTE",
    "IMPUTE_WHILE_RUNNING",
    "MISSING",
    "ConfigIssue",
    "ConfigSource",
    "Distribution",
    "Metric",
    "Parameter",
    "RetryPolicy",
    "SearchSpace",
    "Severity",
    "SweepConfig",
    "args_json_file_path",
    "format_value",
    "limit_issues",
    "load_source",
    "parse_config",
    "render_command",
    "uses_macro",
    "value_key",
]
