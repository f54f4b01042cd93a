"""Certification engines: bound propagation (IBP, CROWN, alpha-CROWN), Lipschitz bounds, PGD,
ONNX and VNN-LIB readers and the network layers they share. Engines import only curator.api
and each other, so a plugin may build on them.
"""
