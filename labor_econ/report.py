"""One reporting layer: the header block of every results summary, with the same labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statsmodels.iolib.summary2 import Summary

__all__ = ["LABELS", "header", "info_summary", "taxonomy_label"]

#: The labels every summary uses, in order (a model shows those that apply to it).
LABELS = (
    "Model:",
    "Taxonomy:",
    "No. Transitions:",
    "No. Persons:",
    "Parameters:",
    "Covariance Type:",
    "Log-likelihood:",
    "LL-Null:",
    "Pseudo R-squ.:",
    "Perplexity:",
    "AIC:",
    "BIC:",
)


def taxonomy_label(taxonomy: Any) -> str:
    """A taxonomy as summaries show it: ``"name (K codes)"``."""
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
        :func:`labor_econ.models.base.cov_type_label`); omitted when None.
    extra : mapping, optional
        Model-specific entries, placed before the fit statistics.
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
    """A statsmodels ``summary2.Summary`` opening with ``title`` and the header ``info``."""
    smry = Summary()
    smry.add_title(title)
    smry.add_dict(dict(info))
    return smry
