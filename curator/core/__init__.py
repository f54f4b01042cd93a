"""The torch-free domain: errors, JSON I/O, schemas, entry validation, claim digests, radii,
sample selections, statistics and paper identifiers. Nothing here imports torch at import time.
"""
