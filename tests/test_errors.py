"""One errors module: every exception and warning of the package shares a base, keeps its own,
and the command line maps errors to exit codes through that base."""

import importlib
import inspect
import pkgutil

import pytest

import labor_econ
from labor_econ import errors
from labor_econ.errors import LaborEconError, LaborEconWarning


def _package_classes() -> list[type]:
    """Every exception or warning class defined in a module of the package."""
    found = {}
    for info in pkgutil.walk_packages(labor_econ.__path__, "labor_econ."):
        if info.name.endswith("__main__"):
            continue  # runs the command line when imported
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("labor_econ."):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def test_every_exception_and_warning_of_the_package_has_the_common_base():
    classes = _package_classes()
    assert len(classes) >= 12  # 9 errors, 3 warnings, and the two bases
    for cls in classes:
        if issubclass(cls, Warning):
            assert issubclass(cls, LaborEconWarning) and issubclass(cls, UserWarning), cls
        else:
            assert issubclass(cls, LaborEconError), cls


@pytest.mark.parametrize(
    ("old_path", "name"),
    [
        ("labor_econ.panel", "PanelError"),
        ("labor_econ.taxonomy", "TaxonomyError"),
        ("labor_econ.templates", "TemplateError"),
        ("labor_econ.lm.loading", "LMLoadError"),
        ("labor_econ.lm.store", "StoreMismatchError"),
        ("labor_econ.lm.formats", "CheckpointMismatchWarning"),
        ("labor_econ.lm.formats", "LowValidMassWarning"),
        ("labor_econ.cli.data", "UsageError"),
        ("labor_econ.outdir", "OutDirError"),
        ("labor_econ.cli.outdir", "OutDirError"),
    ],
)
def test_moved_classes_stay_importable_and_keep_their_bases(old_path, name):
    cls = getattr(importlib.import_module(old_path), name)
    assert cls is getattr(errors, name)
    if not issubclass(cls, Warning):
        assert issubclass(cls, ValueError)  # `except ValueError` still catches them


def test_errors_outside_the_errors_module_keep_their_bases():
    from labor_econ.lm.scoring import ContextLengthError
    from labor_econ.testing.rejections import CommandLineError

    assert issubclass(ContextLengthError, LaborEconError) and issubclass(
        ContextLengthError, ValueError
    )
    assert issubclass(CommandLineError, LaborEconError)


def test_moved_modules_stay_importable():
    import labor_econ.cli.demo
    import labor_econ.cli.outdir
    import labor_econ.demo
    import labor_econ.outdir
    import labor_econ.rejections
    import labor_econ.testing.rejections

    assert labor_econ.demo.run_demo is labor_econ.cli.demo.run_demo
    assert labor_econ.outdir.prepare_out_dir is labor_econ.cli.outdir.prepare_out_dir
    assert labor_econ.rejections.CASES is labor_econ.testing.rejections.CASES
    from labor_econ._version import __version__

    assert labor_econ.__version__ == __version__


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.UsageError("bad option"), 2),
        (errors.OutDirError("bad folder"), 2),
        (errors.PanelError("bad rows"), 1),
        (errors.StoreMismatchError("other model"), 1),
        (type("Custom", (LaborEconError,), {"exit_code": 3})("custom"), 3),
        (ValueError("plain"), 1),
    ],
)
def test_cli_exit_code_comes_from_the_error(monkeypatch, capsys, error, code):
    from labor_econ.cli import main

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("labor_econ.cli.score.run_score", fail)
    args = ["score", "d.csv", "--id", "i", "--time", "t", "--occupation", "o"]
    assert main([*args, "--lm", "x", "--store", "s"]) == code
    assert f"labor-econ: error: {error}" in capsys.readouterr().err
