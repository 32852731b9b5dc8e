"""The one renderer of results, comparisons and tests: text, HTML and LaTeX from one summary.

Every object that reports (each results class, :class:`~labor_econ.ModelComparison`,
:class:`~labor_econ.TestResult`) builds one :class:`Summary` in ``summary()`` and inherits
``__str__``, ``_repr_html_``, ``to_html()`` and ``to_latex()`` from :class:`SummaryStr`, the
pattern of linearmodels' ``_SummaryStr``. The rule for ``summary()``: it returns a
:class:`Summary`, a statsmodels ``summary2.Summary`` (so ``summary_col``-style users and
``as_text()`` keep working) whose HTML and LaTeX escape every text they embed.

statsmodels' ``as_html()`` and ``as_latex()`` embed titles, labels and cells verbatim (a
``<script>`` in a model name reaches the page; ``\\input{...}`` reaches the document), so
both are written here, on one escaping rule: :func:`escape_html` and :func:`escape_latex`
apply to every title, label, cell and note.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import pandas as pd
from statsmodels.iolib import summary2

__all__ = [
    "Summary",
    "SummaryStr",
    "escape_html",
    "escape_latex",
    "header",
    "info_summary",
    "taxonomy_label",
]

# LaTeX's ten special characters, each written so that it prints as itself.
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def escape_html(text: Any) -> str:
    """``text`` as HTML text: ``& < > " '`` become entities (nothing else is markup)."""
    return html.escape(str(text), quote=True)


def escape_latex(text: Any) -> str:
    """``text`` as LaTeX text: every special character prints as itself (no commands run)."""
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


class Summary(summary2.Summary):
    """A statsmodels ``summary2.Summary`` whose ``as_html()`` and ``as_latex()`` escape.

    Build it as a statsmodels summary (``add_title``, ``add_dict``, ``add_df``,
    ``add_text``); ``as_text()`` is statsmodels' own. Tables are kept as DataFrames
    (``tables``), with each table's header/index flags in ``settings``.

    Examples
    --------
    >>> from labor_econ.report import Summary
    >>> smry = Summary()
    >>> smry.add_title("Fit of <my> model")
    >>> smry.add_dict({"Model:": "R&D", "N:": "10"})
    >>> print(smry.as_text())
    Fit of <my> model
    ================
    Model: R&D N: 10
    ================
    >>> print(smry.as_html())  # the title and cells escaped
    <table class="simpletable">
    <caption>Fit of &lt;my&gt; model</caption>
    <tr><td>Model:</td><td>R&amp;D</td><td>N:</td><td>10</td></tr>
    </table>
    """

    def _rows(self, table: pd.DataFrame, settings: dict) -> list[tuple[list[str], bool]]:
        """The table's rows as cell texts, each flagged True for a header row."""
        rows: list[tuple[list[str], bool]] = []
        index, header = settings.get("index", True), settings.get("header", True)
        if header:
            rows.append(([""] * index + [str(c) for c in table.columns], True))
        for label, values in zip(table.index, table.to_numpy(), strict=True):
            cells = [str(label)] * index + ["" if v is None else str(v) for v in values]
            rows.append((cells, False))
        return rows

    def as_html(self) -> str:
        """The summary as HTML tables, every text escaped (the title is a caption)."""
        parts = []
        for i, (table, settings) in enumerate(zip(self.tables, self.settings, strict=True)):
            lines = ['<table class="simpletable">']
            if i == 0 and self.title:
                lines.append(f"<caption>{escape_html(self.title)}</caption>")
            for cells, is_header in self._rows(table, settings):
                tag = "th" if is_header else "td"
                lines.append(
                    "<tr>" + "".join(f"<{tag}>{escape_html(c)}</{tag}>" for c in cells) + "</tr>"
                )
            lines.append("</table>")
            parts.append("\n".join(lines))
        notes = "<br/>\n".join(escape_html(t).replace("\n", "<br/>\n") for t in self.extra_txt)
        return "\n".join(parts) + (f"<br/>\n{notes}" if notes else "")

    def as_latex(self, label: str = "") -> str:
        """The summary as a LaTeX ``table`` of ``tabular`` blocks, every text escaped."""
        lines = [r"\begin{table}"]
        if self.title:
            lines.append(r"\caption{" + escape_latex(self.title) + "}")
        if label:
            lines.append(r"\label{" + escape_latex(label) + "}")
        for table, settings in zip(self.tables, self.settings, strict=True):
            rows = self._rows(table, settings)
            width = max((len(cells) for cells, _ in rows), default=1)
            lines += [r"\begin{center}", r"\begin{tabular}{" + "l" * width + "}", r"\hline"]
            for cells, is_header in rows:
                lines.append(" & ".join(escape_latex(c) for c in cells) + r" \\")
                if is_header:
                    lines.append(r"\hline")
            lines += [r"\hline", r"\end{tabular}", r"\end{center}"]
        lines.append(r"\end{table}")
        if self.extra_txt:
            lines.append(r"\bigskip")
            lines.append(" \\newline\n".join(escape_latex(t) for t in self.extra_txt))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()


class SummaryStr:
    """Mixin: ``str()``, ``to_html()``, ``to_latex()`` and the notebook view from ``summary()``.

    A subclass implements ``summary()`` returning a :class:`Summary` (linearmodels'
    ``_SummaryStr`` pattern: one summary, every rendering derived from it).

    Examples
    --------
    >>> from labor_econ.report import SummaryStr, info_summary
    >>> class Note(SummaryStr):
    ...     def summary(self):
    ...         return info_summary("A note", {"Model:": "R&D"})
    >>> print(Note())
       A note
    ============
    Model: R&D
    ============
    >>> print(Note().to_latex())
    \\begin{table}
    \\caption{A note}
    \\begin{center}
    \\begin{tabular}{llll}
    \\hline
    Model: & R\\&D &  &  \\\\
    \\hline
    \\end{tabular}
    \\end{center}
    \\end{table}
    """

    def summary(self) -> Summary:  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def __str__(self) -> str:
        return self.summary().as_text()

    def to_html(self) -> str:
        """The summary as HTML (every name, title and label escaped)."""
        return self.summary().as_html()

    def to_latex(self) -> str:
        """The summary as a LaTeX ``table`` (every name, title and label escaped)."""
        return self.summary().as_latex()

    def _repr_html_(self) -> str:
        return self.to_html()


def taxonomy_label(taxonomy: Any) -> str:
    """A taxonomy as summaries show it: ``"name (K codes)"``.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.report import taxonomy_label
    >>> taxonomy_label(wage_panel().taxonomy)
    'wage_panel_1970 (9 codes)'
    """
    return f"{taxonomy.name} ({len(taxonomy)} codes)"


def header(
    results: Any,
    *,
    model: str,
    cov_type: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The header block of a results summary, label to formatted value.

    Parameters
    ----------
    results : TransitionResults
        Any fitted transition model (``name``, ``taxonomy``, ``nobs``, ``panel``,
        ``k_params``, ``llf``, ``llnull``, ...).
    model : str
        The model's name as shown.
    cov_type : str, optional
        The covariance type, already worded (see
        ``labor_econ.models.base.cov_type_label``); omitted when None.
    extra : mapping, optional
        Model-specific entries, placed before the fit statistics.

    Examples
    --------
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.report import header
    >>> info = header(MarkovModel(wage_panel()).fit(), model="Markov")
    >>> {k: info[k] for k in ["Model:", "Taxonomy:", "No. Transitions:", "Parameters:"]}
    {'Model:': 'Markov', 'Taxonomy:': 'wage_panel_1970 (9 codes)', 'No. Transitions:': '3815',
     'Parameters:': '72'}
    >>> info["Log-likelihood:"], info["Perplexity:"]
    ('-5385.3384', '4.1026')
    """
    info = {
        "Model:": model,
        "Taxonomy:": taxonomy_label(results.taxonomy),
        "No. Transitions:": str(results.nobs),
        "No. Persons:": str(getattr(results, "n_persons", results.panel.n_persons)),
        "Parameters:": str(results.k_params),
    }
    if cov_type is not None:
        info["Covariance Type:"] = cov_type
    info.update(extra or {})
    info.update(
        {
            "Log-likelihood:": f"{results.llf:.4f}",
            "LL-Null:": f"{results.llnull:.4f}",
            "Pseudo R-squ.:": f"{results.prsquared:.4f}",
            "Perplexity:": f"{results.perplexity:.4f}",
            "AIC:": f"{results.aic:.4f}",
            "BIC:": f"{results.bic:.4f}",
        }
    )
    return info


def info_summary(title: str, info: Mapping[str, str]) -> Summary:
    """A :class:`Summary` opening with ``title`` and the header ``info``.

    Examples
    --------
    >>> from labor_econ import MarkovModel
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.report import header, info_summary
    >>> res = MarkovModel(wage_panel()).fit()
    >>> print(info_summary("Markov transition model", header(res, model="Markov")))
                          Markov transition model
    ====================================================================
    Model:           Markov                    LL-Null:       -7776.3615
    Taxonomy:        wage_panel_1970 (9 codes) Pseudo R-squ.: 0.3075
    No. Transitions: 3815                      Perplexity:    4.1026
    No. Persons:     545                       AIC:           10914.6768
    Parameters:      72                        BIC:           11364.4389
    Log-likelihood:  -5385.3384
    ====================================================================
    """
    smry = Summary()
    smry.add_title(title)
    smry.add_dict(dict(info))
    return smry
