"""The leaderboard store: entries and reports on disk, the publication rule, approve and
transition, diffs, re-verification states and the rendered README.
"""
