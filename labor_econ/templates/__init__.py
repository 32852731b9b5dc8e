r"""Resume templates: how a career is written as text, and how to read the format back.

``template`` holds :class:`ResumeTemplate` and the presets; ``inference`` learns a template
from resumes a checkpoint wrote (it needs no template class of its own: the class is passed
in, so the two modules do not import each other).

Examples
--------
>>> from labor_econ.templates import ResumeTemplate
>>> guess = ResumeTemplate.infer(["1990: Waiters\n1991: Cooks\n", "1990: Cooks\n1992: Cooks\n"])
>>> guess.template.line
'{year}: {title}\n'
"""

from .errors import TemplateError
from .inference import TemplateGuess
from .template import PRESETS, ParsedResume, ResumeTemplate, infer_template

__all__ = [
    "PRESETS",
    "ParsedResume",
    "ResumeTemplate",
    "TemplateError",
    "TemplateGuess",
    "infer_template",
]
