"""The library's exceptions and warnings, with common bases.

Every error raised on purpose derives from :class:`LaborEconError`, and keeps the standard
base it always had (most are ``ValueError``), so ``except ValueError`` still catches them.
Every warning derives from :class:`LaborEconWarning` (a ``UserWarning``). The command line
maps errors to exit codes through :attr:`LaborEconError.exit_code`.

This module imports nothing from the package: every layer may import it.
"""

from __future__ import annotations

__all__ = [
    "CheckpointMismatchWarning",
    "DefaultTemplateWarning",
    "LMLoadError",
    "LaborEconError",
    "LaborEconWarning",
    "LowValidMassWarning",
    "OutDirError",
    "PanelError",
    "StoreMismatchError",
    "TaxonomyError",
    "TemplateError",
    "UsageError",
]


class LaborEconError(Exception):
    """Base of every error the library raises on purpose; the message says what to do.

    Attributes
    ----------
    exit_code : int
        The exit code of ``labor-econ`` when the error ends a command: 1 (the run failed:
        bad data, a model that cannot be fitted), or 2 for bad arguments.

    Examples
    --------
    One ``except`` catches every error the library raises on purpose; the standard base
    (here ``ValueError``) still works too:

    >>> from labor_econ import LaborEconError, taxonomies
    >>> try:
    ...     taxonomies.occ1990().title(12345)
    ... except LaborEconError as err:
    ...     print(type(err).__name__, isinstance(err, ValueError), err.exit_code)
    TaxonomyError True 1
    """

    exit_code: int = 1


class LaborEconWarning(UserWarning):
    """Base of every warning the library issues.

    Examples
    --------
    Silence (or turn into errors) every labor_econ warning at once:

    >>> import warnings
    >>> from labor_econ import LaborEconWarning, LowValidMassWarning
    >>> issubclass(LowValidMassWarning, LaborEconWarning), issubclass(LaborEconWarning, UserWarning)
    (True, True)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", LaborEconWarning)
    ...     try:
    ...         warnings.warn("low mass", LowValidMassWarning)
    ...     except LaborEconWarning as w:
    ...         print(type(w).__name__)
    LowValidMassWarning
    """


# -- data layer --------------------------------------------------------------------------------
class TaxonomyError(LaborEconError, ValueError):
    """Raised when a taxonomy is malformed or a code/title is not in it.

    Examples
    --------
    >>> from labor_econ import TaxonomyError, taxonomies
    >>> try:
    ...     taxonomies.occ1990().title(12345)
    ... except TaxonomyError as err:
    ...     print(err)
    code 12345 is not in taxonomy 'occ1990'
    """


class PanelError(LaborEconError, ValueError):
    """Raised when a career panel is malformed; the message names the rows or persons at fault.

    Examples
    --------
    >>> import pandas as pd
    >>> from labor_econ import CareerPanel, PanelError
    >>> df = pd.DataFrame({"pid": [1, 1], "year": [1990, 1990], "occ": [3, 4]})
    >>> try:
    ...     CareerPanel(df, id="pid", time="year", occupation="occ")
    ... except PanelError as err:
    ...     print(err)
    duplicate (pid, year) pairs: row 0 (pid=1, year=1990); row 1 (pid=1, year=1990)
    """


# -- text layer --------------------------------------------------------------------------------
class TemplateError(LaborEconError, ValueError):
    """Raised when a template is malformed or cannot render a panel.

    Examples
    --------
    >>> from labor_econ import ResumeTemplate, TemplateError
    >>> try:
    ...     ResumeTemplate.preset("nope")
    ... except TemplateError as err:
    ...     print(err)
    unknown preset 'nope'; choose from ['labor_llm', 'labor_llm_numeric', 'model_card', 'plain']
    """


# -- language models ---------------------------------------------------------------------------
class LMLoadError(LaborEconError, ValueError):
    """A checkpoint could not be loaded as a causal language model; the message says what to do.

    Examples
    --------
    >>> import tempfile
    >>> from labor_econ import LMLoadError, load_lm
    >>> try:
    ...     load_lm(tempfile.mkdtemp())
    ... except LMLoadError as err:
    ...     print(err)
    '...' has no config.json, so it is not a transformers checkpoint; save the model there
    with model.save_pretrained(directory)
    """


class StoreMismatchError(LaborEconError, ValueError):
    """A score store was written for another model, template, taxonomy or scorer.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import tempfile, warnings
    >>> from labor_econ import CheckpointMismatchWarning, score_panel
    >>> from labor_econ.lm import StoreMismatchError
    >>> path, small = tempfile.mkdtemp(), val.subset(val.persons[:3])
    >>> logq = score_panel(lm, small, template="labor_llm", store=path, progress=False)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", CheckpointMismatchWarning)  # not its format
    ...     try:
    ...         score_panel(lm, small, template="plain", store=path, progress=False)
    ...     except StoreMismatchError as err:
    ...         print(err)
    the score store ... holds scores of other inputs; differs in: template...
    """


class CheckpointMismatchWarning(LaborEconWarning):
    """A template or taxonomy differs from the one saved with the checkpoint.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import warnings
    >>> from labor_econ import CheckpointMismatchWarning, LLMModel
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     model = LLMModel(val.subset(val.persons[:5]), lm, template="plain")
    >>> any(issubclass(w.category, CheckpointMismatchWarning) for w in caught)
    True
    """


class DefaultTemplateWarning(LaborEconWarning):
    """No template was given and the checkpoint has none saved: the ``labor_llm`` preset is
    used, which may not be the checkpoint's training format.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import dataclasses, warnings
    >>> from labor_econ import DefaultTemplateWarning, LLMModel
    >>> bare = dataclasses.replace(lm, template=None)  # as a checkpoint saved without one
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     model = LLMModel(val.subset(val.persons[:5]), bare)
    >>> [str(w.message).split(":")[0] for w in caught if w.category is DefaultTemplateWarning]
    ['tiny Llama (demo-...) has no saved template (labor_econ_template.json)']
    """


class LowValidMassWarning(LaborEconWarning):
    """The LM puts little probability on the taxonomy's titles: the template or titles differ
    from the checkpoint's training resumes, and its numbers should not be trusted.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import warnings
    >>> from labor_econ import CheckpointMismatchWarning, LLMModel, LowValidMassWarning

    Occupation codes where the checkpoint writes titles; in a batch job, stop instead of
    reporting meaningless numbers:

    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", CheckpointMismatchWarning)
    ...     warnings.simplefilter("error", LowValidMassWarning)
    ...     try:
    ...         LLMModel(val, lm, template="labor_llm_numeric").fit()
    ...     except LowValidMassWarning as err:
    ...         print(str(err)[:60])
    tiny Llama (demo-...): the mean valid mass is ...
    """


# -- command line ------------------------------------------------------------------------------
class UsageError(LaborEconError, ValueError):
    """A bad command-line argument (exit code 2): a missing file or variable, a bad option."""

    exit_code = 2


class OutDirError(LaborEconError, ValueError):
    """The output folder cannot be used; the message names it and says what to do."""

    exit_code = 2
