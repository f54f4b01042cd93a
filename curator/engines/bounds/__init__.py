"""curator's bound-propagation engine: IBP and CROWN on ReLU networks over ℓp-ball ∩ [0,1] inputs.

Public API::

    net = from_module(model, input_shape)          # nn.Sequential -> BoundedNetwork
    net.ibp(x, norm, eps)                 -> [(lb, ub)] pre-activation bounds per ReLU layer
    net.crown_intermediate(x, norm, eps)  -> [(lb, ub)] the same, by CROWN
    net.margin_lower_bounds(x, labels, norm, eps, method="crown"|"ibp", intermediate="crown"|"ibp",
                            with_ibp=False, alpha=None | {"iterations": n, "lr": r})
                                          -> [B, K] lower bounds of f_y - f_j (+inf at j = y)

Conv layers' intermediate bounds use the patches pass (:mod:`curator.engines.bounds.patches`); the dense
reference is ``net.patches = net.skip_exact = net.tighten_ibp = False`` (same bounds up to rounding,
except that tightening narrows the intermediate bounds).
"""

from curator.engines.bounds.convert import SUPPORTED, UnsupportedLayerError, from_module
from curator.engines.bounds.inputs import NORMS, concretize_lower, input_box
from curator.engines.bounds.network import BoundedNetwork, Node

__all__ = [
    "BoundedNetwork",
    "Node",
    "NORMS",
    "SUPPORTED",
    "UnsupportedLayerError",
    "concretize_lower",
    "from_module",
    "input_box",
]
