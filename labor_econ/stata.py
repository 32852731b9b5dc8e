"""Writing predictions back to Stata ``.dta`` files."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from .panel import CareerPanel

__all__ = ["predictions_frame", "to_stata"]


def predictions_frame(
    results: Any, panel: CareerPanel | None = None, *, prefix: str = "p_"
) -> pd.DataFrame:
    """Predictions as a flat, Stata-friendly frame.

    One row per transition with the id and time columns (the panel's names), the observed
    ``occupation``, the most likely code ``pred_occ`` and its probability ``pred_p``, and
    one probability column per taxonomy code (``p_<code>``).

    Parameters
    ----------
    results : fitted transition results
        Anything with ``predict(panel)`` (every model of this package).
    panel : CareerPanel, optional
        Transitions to predict; default the estimation sample.
    prefix : str
        Prefix of the probability columns.
    """
    panel = panel if panel is not None else results.panel
    probs = results.predict(panel)
    codes = probs.columns
    top = probs.to_numpy().argmax(axis=1)
    flat = pd.DataFrame(
        {
            "occupation": panel.transitions()["occupation"].to_numpy(),
            "pred_occ": np.asarray(codes)[top],
            "pred_p": probs.to_numpy()[np.arange(len(top)), top],
        },
        index=probs.index,
    )
    names = [f"{prefix}{c}" for c in codes]
    flat[names] = probs.to_numpy()
    return flat.reset_index()


def to_stata(
    results: Any,
    path: str | os.PathLike[str],
    panel: CareerPanel | None = None,
    *,
    prefix: str = "p_",
    **kwargs: Any,
) -> pd.DataFrame:
    """Write :func:`predictions_frame` to a ``.dta`` file, with occupation value labels.

    ``occupation`` and ``pred_occ`` carry the taxonomy's titles as value labels (integer
    codes only; Stata value labels cannot label strings), and each ``p_<code>`` variable
    is labelled with its title. Extra keyword arguments go to
    :meth:`pandas.DataFrame.to_stata`. Returns the frame written.

    Examples
    --------
    >>> res.to_stata("predictions.dta", panel=test)  # doctest: +SKIP

    In Stata: ``use predictions.dta`` then e.g. ``tab occupation pred_occ``.
    """
    panel = panel if panel is not None else results.panel
    frame = predictions_frame(results, panel, prefix=prefix)
    tax = panel.taxonomy
    labels = {f"{prefix}{c}": f"P({t})"[:80] for c, t in zip(tax.codes, tax.titles, strict=True)}
    value_labels = {}
    if all(isinstance(c, int) for c in tax.codes):
        mapping = dict(zip(tax.codes, tax.titles, strict=True))
        value_labels = {"occupation": mapping, "pred_occ": mapping}
    frame.to_stata(
        path,
        write_index=False,
        variable_labels={**labels, **kwargs.pop("variable_labels", {})},
        value_labels=value_labels or None,
        **kwargs,
    )
    return frame
