"""Venue names as the board writes them: ``ICLR``, ``NeurIPS``, ``ICML`` (the year lives in the
paper's ``year`` field, see docs/schema.md).

Services spell venues differently (Semantic Scholar "International Conference on Learning
Representations", dblp "ICLR", Crossref "2019 IEEE/CVF International Conference on Computer
Vision (ICCV)", PMLR "Proceedings of the 38th International Conference on Machine Learning").
:func:`short_venue` maps the ones the certified-robustness literature uses to their acronyms
and leaves any other name as it is.
"""

from __future__ import annotations

import re

# (pattern on the lowercased name, acronym). Order matters: specific before general.
_ACRONYMS: list[tuple[str, str]] = [
    (r"\bneurips\b|\bnips\b|neural information processing systems", "NeurIPS"),
    (r"\biclr\b|learning representations", "ICLR"),
    (r"\bicml\b|international conference on machine learning", "ICML"),
    (r"\biccv\b|international conference on computer vision", "ICCV"),
    (r"\beccv\b|european conference on computer vision", "ECCV"),
    (r"\bcvpr\b|computer vision and pattern recognition", "CVPR"),
    (r"\bijcai\b|international joint conference on artificial intelligence", "IJCAI"),
    (r"\baaai\b|aaai conference on artificial intelligence", "AAAI"),
    (r"\baistats\b|artificial intelligence and statistics", "AISTATS"),
    (r"\buai\b|uncertainty in artificial intelligence", "UAI"),
    (r"\bccs\b|computer and communications security", "CCS"),
    (r"usenix security", "USENIX Security"),
    (r"\bsp\b|symposium on security and privacy|\bs&p\b", "S&P"),
    (r"\bcav\b|computer aided verification", "CAV"),
    (r"\bpldi\b|programming language design and implementation", "PLDI"),
    (r"\bpopl\b|principles of programming languages", "POPL"),
    (r"\bsas\b|static analysis symposium", "SAS"),
    (r"\btmlr\b|trans(actions)?\.? (on )?mach(ine)?\.? learn(ing)?\.? res(earch)?", "TMLR"),
    (r"\bjmlr\b|journal of machine learning research|j\. mach\. learn\. res", "JMLR"),
    (r"pattern analysis and machine intelligence|\btpami\b", "TPAMI"),
]

_PREPRINT = re.compile(r"^(arxiv(\.org)?|corr|arxiv \(cornell university\)|biorxiv|ssrn)$", re.I)


def is_preprint_venue(name: str | None) -> bool:
    return not name or bool(_PREPRINT.match(name.strip()))


def acronym(name: str) -> str | None:
    low = name.lower()
    for pattern, short in _ACRONYMS:
        if re.search(pattern, low):
            return short
    return None


def short_venue(name: str | None, year: int | None = None) -> str | None:
    """The acronym of a known venue (``ICLR``), else the name as given; None for preprints.

    ``year`` is accepted for callers that have one but not written into the name.
    """
    if name is None or is_preprint_venue(name):
        return None
    name = " ".join(name.split())
    short = acronym(name)
    return short if short is not None else name[:200]


