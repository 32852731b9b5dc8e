"""The ``--template`` argument of ``fit`` and ``score``: read as the Python API reads templates."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..errors import LaborEconError, UsageError

if TYPE_CHECKING:
    from ..templates import ResumeTemplate

__all__ = ["add_template_argument", "template_arg"]


def add_template_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--template`` (default: the template saved with the checkpoint)."""
    p.add_argument(
        "--template",
        default=None,
        help="resume template: a preset name, a .json file as ResumeTemplate.save writes "
        "(e.g. CKPT/labor_econ_template.json) or such a JSON object (default: the template "
        "saved with the checkpoint, else labor_llm with a warning)",
    )


def template_arg(text: str | None) -> ResumeTemplate | None:
    """The template ``--template`` names, through :meth:`ResumeTemplate.coerce`; None (the
    checkpoint's own) when not given.

    Raises
    ------
    UsageError
        Naming the argument, when it is no preset, readable file or template object.
    """
    from ..templates import ResumeTemplate

    if text is None:
        return None
    try:
        # An inline JSON object is the dict of ResumeTemplate.to_dict: coerce reads it.
        value = json.loads(text) if text.lstrip().startswith("{") else text
        return ResumeTemplate.coerce(value)
    except (OSError, ValueError, LaborEconError) as err:
        raise UsageError(f"--template {text!r}: {err}") from err
