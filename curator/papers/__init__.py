"""Paper tooling: the HTTP client scrapers share, paper resolution, enrichment, LaTeX tables
and proposed claims.
"""
