"""Benchmark suites: verifiers run on shared models and selections, results merged and rendered.
"""
