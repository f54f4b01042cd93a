"""JSON Schemas (2020-12) of curator's documents, installed as the ``curator_schemas`` package.

They are data; :mod:`curator.core.schemas` loads them and resolves ``$ref`` locally by ``$id``.
"""
