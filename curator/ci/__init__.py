"""The steps the GitHub workflows run: submission checks, re-verification plans, verdict merges
and publication.
"""
