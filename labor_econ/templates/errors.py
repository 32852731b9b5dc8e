"""The error raised by resume templates (in its own module so that inference needs no template)."""

__all__ = ["TemplateError"]


class TemplateError(ValueError):
    """Raised when a template is malformed, cannot render a panel, or cannot be inferred."""
