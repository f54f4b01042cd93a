"""Exact binomial bounds for probabilistic verifiers (randomized smoothing and the like).

- :func:`cp_lower` / :func:`cp_upper`: one-sided Clopper–Pearson bounds of a proportion at level
  ``alpha`` (the bound of Cohen et al.'s CERTIFY);
- :func:`cp_interval`: the two-sided interval at a confidence level.

They are exact (coverage at least nominal for every n), which a certificate needs. Importing this
module does not import scipy; the first bound computed does.

Stability: the names in ``__all__`` are plugin API; a change to them is made together with
docs/plugins.md and the bundled verifiers.
"""

from curator.core.stats import cp_interval, cp_lower, cp_upper

__all__ = ["cp_lower", "cp_upper", "cp_interval"]
