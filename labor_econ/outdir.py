"""Moved to :mod:`labor_econ.cli.outdir`; kept so that old imports keep working."""

from .cli.outdir import OutDirError, prepare_out_dir

__all__ = ["OutDirError", "prepare_out_dir"]
