"""The LaTeX table reader: rows, cells, spans, rules and markup."""

from __future__ import annotations

from curator.papers.latex_tables import clean_cell, find_tables


def test_markup_is_reduced_to_text():
    assert clean_cell(r"\textbf{97.95} $\pm$ 0.05") == "97.95 ± 0.05"
    assert clean_cell(r"$\ell_\infty$-dist Net") == "ℓ∞-dist Net"
    assert clean_cell(r"$\epsilon=\frac{8}{255}$") == "ε=8/255"
    assert clean_cell(r"\underline{27.21}\,\%") == "27.21 %"
    assert clean_cell(r"IBP \cite{gowal2018}") == "IBP"
    assert clean_cell(r"\cellcolor{gray!20}\textit{35.10}") == "35.10"


def test_multicolumn_multirow_rules_and_comments():
    tex = r"""
    \begin{table}\caption{Certified accuracy}\label{t}
    \begin{tabular}{llcc}
    \toprule
    & & \multicolumn{2}{c}{CIFAR-10} \\ \cmidrule(lr){3-4}
    Model & $\epsilon$ & Clean & Cert. \\ % a comment & with & ampersands
    \midrule
    \multirow{2}{*}{A} & 2/255 & 1 & 2 \\
                       & 8/255 & 3 & 4 \\
    \multirow{-2}{*}{B} & 0.1 & 5 & 6 \\
     & 0.2 & 7 & 8 \\
    \bottomrule
    \end{tabular}\end{table}
    """
    (t,) = find_tables(tex, "x.tex")
    assert t.caption == "Certified accuracy" and t.label == "t"
    assert t.header_rows == 2
    assert t.rows[0] == ["", "", "CIFAR-10", "CIFAR-10"]
    assert t.rows[2][0] == t.rows[3][0] == "A"
    assert t.rows[4][0] == "B" and t.rows[5][0] == ""  # negative span fills upwards only
    assert t.rows[3] == ["A", "8/255", "3", "4"]


def test_nested_braces_escaped_ampersand_and_tabular_star():
    tex = r"\begin{tabular*}{\linewidth}{@{\extracolsep{\fill}}lc}a \& b & {x & y}\\ c & d\end{tabular*}"
    (t,) = find_tables(tex, "x.tex")
    assert t.rows == [["a & b", "x & y"], ["c", "d"]]


def test_longtable_caption_is_not_a_row():
    tex = r"""\begin{longtable}{lc}
    \caption{Certified error on SVHN}\\
    \toprule A & B \\ \midrule \endhead
    1 & 2 \\ \bottomrule \end{longtable}"""
    (t,) = find_tables(tex, "x.tex")
    assert t.caption == "Certified error on SVHN"
    assert t.rows == [["A", "B"], ["1", "2"]]
