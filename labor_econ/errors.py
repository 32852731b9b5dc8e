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
    """

    exit_code: int = 1


class LaborEconWarning(UserWarning):
    """Base of every warning the library issues."""


# -- data layer --------------------------------------------------------------------------------
class TaxonomyError(LaborEconError, ValueError):
    """Raised when a taxonomy is malformed or a code/title is not in it."""


class PanelError(LaborEconError, ValueError):
    """Raised when a career panel is malformed; the message names the rows or persons at fault."""


# -- text layer --------------------------------------------------------------------------------
class TemplateError(LaborEconError, ValueError):
    """Raised when a template is malformed or cannot render a panel."""


# -- language models ---------------------------------------------------------------------------
class LMLoadError(LaborEconError, ValueError):
    """A checkpoint could not be loaded as a causal language model; the message says what to do."""


class StoreMismatchError(LaborEconError, ValueError):
    """A score store was written for another model, template, taxonomy or scorer."""


class CheckpointMismatchWarning(LaborEconWarning):
    """A template or taxonomy differs from the one saved with the checkpoint."""


class DefaultTemplateWarning(LaborEconWarning):
    """No template was given and the checkpoint has none saved: the ``labor_llm`` preset is
    used, which may not be the checkpoint's training format."""


class LowValidMassWarning(LaborEconWarning):
    """The LM puts little probability on the taxonomy's titles: the template or titles differ
    from the checkpoint's training resumes, and its numbers should not be trusted."""


# -- command line ------------------------------------------------------------------------------
class UsageError(LaborEconError, ValueError):
    """A bad command-line argument (exit code 2): a missing file or variable, a bad option."""

    exit_code = 2


class OutDirError(LaborEconError, ValueError):
    """The output folder cannot be used; the message names it and says what to do."""

    exit_code = 2
