"""The re-verification pipeline: artifacts fetched and pinned, models built, test data loaded,
a verifier run over the selection and the report written.
"""
