"""Paper references for scrapers and importers: identifiers, titles, venues and radii.

What a plugin gets here, all pure functions of strings (no network, no torch):

- reading a reference a user typed (``arxiv:2210.04871``, a DOI, an OpenReview link, a title):
  :func:`classify` (its kind and identifier, as a :class:`Ref`), :func:`arxiv_id`, :func:`doi`,
  :func:`openreview_id`, :func:`is_url`;
- ids inside links: :func:`arxiv_id_from_url`, :func:`openreview_id_from_url`,
  :func:`proceedings_page_url` (a NeurIPS / PMLR / CVF / IJCAI link → its canonical abstract page);
- titles: :func:`normalise_title`, :func:`title_similarity` (and :data:`TITLE_MATCH_THRESHOLD`, the
  similarity above which two titles name the same paper), :func:`paper_keys` (the keys by which two
  paper blocks are the same paper);
- venues: :func:`short_venue` (a venue's full name and year → the board's short form),
  :func:`is_preprint_venue`;
- radii as papers write them: :func:`parse_radius` (``"8/255"`` → 0.0313…).

Stability: the names in ``__all__`` are plugin API; a change to them is made together with
docs/plugins.md and the bundled scrapers and importers.
"""

from curator.core.paperid import (
    arxiv_id_from_url,
    normalise_title,
    openreview_id_from_url,
    paper_keys,
    proceedings_page_url,
)
from curator.core.radius import parse_radius
from curator.core.refs import (
    TITLE_MATCH_THRESHOLD,
    Ref,
    arxiv_id,
    classify,
    doi,
    is_url,
    openreview_id,
    title_similarity,
)
from curator.core.venues import is_preprint_venue, short_venue

__all__ = [
    "Ref",
    "classify",
    "arxiv_id",
    "doi",
    "openreview_id",
    "is_url",
    "arxiv_id_from_url",
    "openreview_id_from_url",
    "proceedings_page_url",
    "normalise_title",
    "title_similarity",
    "TITLE_MATCH_THRESHOLD",
    "paper_keys",
    "short_venue",
    "is_preprint_venue",
    "parse_radius",
]
