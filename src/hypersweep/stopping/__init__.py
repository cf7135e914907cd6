"""Early-termination rules, one module each, found by ``early_terminate.type``."""

from hypersweep.stopping._base import StopOrder, StoppingRule
from hypersweep.stopping.asha import Asha
from hypersweep.stopping.hyperband import Hyperband
from hypersweep.stopping.median import Median

#: ``early_terminate.type`` -> rule class. A new rule is one module plus one line here.
STOPPING_RULES: dict[str, type[StoppingRule]] = {
    Hyperband.type: Hyperband,
    Asha.type: Asha,
    Median.type: Median,
}

__all__ = ["STOPPING_RULES", "StopOrder", "StoppingRule"]
