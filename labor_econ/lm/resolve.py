"""What a checkpoint is scored with: its resume template and the title spellings it learned.

Resolved here, once, below the models, so that :func:`labor_econ.score_panel`, the model
classes and the command line all score a checkpoint the same way.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointMismatchWarning, DefaultTemplateWarning
from ..templates import ResumeTemplate

if TYPE_CHECKING:
    from ..taxonomy import Taxonomy
    from .loading import CausalLM

__all__ = ["resolve_template", "resolve_titles"]

TemplateLike = str | os.PathLike | Mapping[str, Any] | ResumeTemplate

#: The preset used when neither the caller nor the checkpoint names a template.
DEFAULT_PRESET = "labor_llm"


def _name(lm: CausalLM | None) -> str:
    return str(getattr(lm, "name", None) or "the checkpoint")


def resolve_template(
    lm: CausalLM | None, template: TemplateLike | None = None, *, stacklevel: int = 2
) -> ResumeTemplate:
    """The template to score `lm` with.

    Parameters
    ----------
    lm : CausalLM or None
        The checkpoint; its saved template (``lm.template``, written by
        :func:`labor_econ.finetune` as ``labor_econ_template.json``) is the default.
    template : str, path, dict or ResumeTemplate, optional
        A template as :meth:`~labor_econ.ResumeTemplate.coerce` reads it (a preset name, a ``.json``
        file, a :meth:`~ResumeTemplate.to_dict` dict or a template).
    stacklevel : int
        Where warnings point, as for ``warnings.warn`` (counted from the caller).

    Returns
    -------
    ResumeTemplate
        `template` when given (with a :class:`CheckpointMismatchWarning` when it writes
        otherwise than the checkpoint's saved template), else the saved template, else the
        ``labor_llm`` preset with a :class:`DefaultTemplateWarning` that says how to learn
        the checkpoint's format.
    """
    saved = getattr(lm, "template", None)
    if template is None:
        if saved is not None:
            return ResumeTemplate.coerce(saved)
        if lm is not None:
            warnings.warn(
                f"{_name(lm)} has no saved template (labor_econ_template.json): scoring with "
                f"the {DEFAULT_PRESET!r} preset, which may not be how it was trained. Learn its "
                "format with labor_econ.check_format(lm, panel, template), let it write "
                "resumes (labor_econ.lm.sample_resumes) and infer their template "
                "(ResumeTemplate.infer), then pass template=...",
                DefaultTemplateWarning,
                stacklevel=stacklevel + 1,
            )
        return ResumeTemplate.preset(DEFAULT_PRESET)
    template = ResumeTemplate.coerce(template)
    if saved is not None and _format_of(template) != _format_of(saved):
        warnings.warn(
            f"template {template.name!r} differs from the template {saved.name!r} saved with "
            f"{_name(lm)} (its training format): {_format_of(template)} vs {_format_of(saved)}. "
            "Omit template= to score with the saved one",
            CheckpointMismatchWarning,
            stacklevel=stacklevel + 1,
        )
    return template


def resolve_titles(
    lm: CausalLM | None,
    taxonomy: Taxonomy,
    titles: Taxonomy | None = None,
    template: ResumeTemplate | None = None,
    *,
    stacklevel: int = 2,
) -> Taxonomy:
    """The taxonomy whose titles are written when scoring a panel with taxonomy `taxonomy`.

    Parameters
    ----------
    lm : CausalLM or None
        The checkpoint; its saved taxonomy (``lm.taxonomy``) spells the titles it learned.
    taxonomy : Taxonomy
        The panel's taxonomy: its codes are the outcomes.
    titles : Taxonomy, optional
        The titles to write, passed on purpose (it must hold every code of `taxonomy`);
        a :class:`CheckpointMismatchWarning` says where they differ from the saved ones.
        Default: the checkpoint's saved titles for the codes it knows, `taxonomy`'s for the
        rest.
    template : ResumeTemplate, optional
        A template that writes codes, not titles, needs no titles: `taxonomy` is returned.

    Returns
    -------
    Taxonomy
        `taxonomy`'s codes, in its order, with the titles to write.
    """
    from ..taxonomy import Taxonomy

    trained = getattr(lm, "taxonomy", None)
    if template is not None and template.outcome != "title":
        return taxonomy if titles is None else _same_codes(titles, taxonomy)
    if titles is not None:
        if not isinstance(titles, Taxonomy):
            raise TypeError(f"taxonomy must be a Taxonomy, got {type(titles).__name__}")
        titles = _same_codes(titles, taxonomy)
        if trained is not None:
            differ = [
                (c, titles.title(c), trained.title(c))
                for c in titles.codes
                if c in trained and titles.title(c) != trained.title(c)
            ]
            if differ:
                c, ours, theirs = differ[0]
                warnings.warn(
                    f"{len(differ)} title(s) of the taxonomy passed differ from the taxonomy "
                    f"saved with {_name(lm)}, e.g. code {c!r}: {ours!r} here, {theirs!r} in "
                    "training. Omit taxonomy= to score with the training spellings",
                    CheckpointMismatchWarning,
                    stacklevel=stacklevel + 1,
                )
        return titles
    if trained is None:
        return taxonomy
    known = {c: trained.title(c) for c in taxonomy.codes if c in trained}
    if all(taxonomy.title(c) == t for c, t in known.items()):
        return taxonomy
    from ..taxonomy import TaxonomyError

    try:
        return taxonomy.with_titles(known)
    except TaxonomyError as err:
        raise TaxonomyError(
            f"writing the titles saved with {_name(lm)} (lm.taxonomy) for the panel's codes: "
            f"{err}. Pass taxonomy= with the titles to write"
        ) from err


def _same_codes(titles: Taxonomy, taxonomy: Taxonomy) -> Taxonomy:
    """`titles` when it has `taxonomy`'s codes in its order, else an error naming the codes."""
    if tuple(titles.codes) == tuple(taxonomy.codes):
        return titles
    missing = [c for c in taxonomy.codes if c not in titles]
    if missing:
        from ..taxonomy import TaxonomyError

        raise TaxonomyError(
            f"the taxonomy passed lacks {len(missing)} code(s) of the panel's taxonomy "
            f"{taxonomy.name!r}, e.g. {missing[:5]}"
        )
    return taxonomy.with_titles({c: titles.title(c) for c in taxonomy.codes})


def _format_of(template: ResumeTemplate) -> dict:
    """What a template writes, without its display name."""
    return {k: v for k, v in template.to_dict().items() if k != "name"}
