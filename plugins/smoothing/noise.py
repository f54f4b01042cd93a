"""The smoothing noises and the norm each certifies natively (constants only: importing this
module costs nothing, so the plugin can be listed without torch or scipy)."""

NOISES = ("gaussian", "uniform", "laplace")
NATIVE_NORM = {"gaussian": "l2", "uniform": "l1", "laplace": "l1"}
