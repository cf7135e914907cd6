"""Search methods, one module each, found by name through ``SEARCHERS``."""

from hypersweep.search._base import Searcher, Suggestion
from hypersweep.search.bayes import BayesSearch
from hypersweep.search.grid import GridSearch
from hypersweep.search.random import RandomSearch
from hypersweep.search.sobol import SobolSearch
from hypersweep.search.tpe import TPESearch

#: ``method:`` name -> searcher class. A new method is one module plus one line here.
SEARCHERS: dict[str, type[Searcher]] = {
    GridSearch.name: GridSearch,
    RandomSearch.name: RandomSearch,
    BayesSearch.name: BayesSearch,
    TPESearch.name: TPESearch,
    SobolSearch.name: SobolSearch,
}

__all__ = ["SEARCHERS", "Searcher", "Suggestion"]
