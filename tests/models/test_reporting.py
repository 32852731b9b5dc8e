"""One renderer for every results class, comparison and test: text, HTML, LaTeX, escaping."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax
from statsmodels.iolib import summary2
from statsmodels.tools.sm_exceptions import CollinearityWarning

import labor_econ
from labor_econ import compare, vuong_test
from labor_econ.models import persistence
from labor_econ.models.base import TransitionResults
from labor_econ.models.llm import LLMModel
from labor_econ.models.markov import MarginalModel, MarkovModel
from labor_econ.models.mnlogit import MNLogitModel
from labor_econ.models.pool import LogLinearPoolModel
from labor_econ.models.render import Summary, escape_html, escape_latex

pytestmark = pytest.mark.filterwarnings("ignore", category=CollinearityWarning)

HOSTILE = "<script>alert(1)</script> \\input{/etc/passwd} 100% & $x_1$ #~^"


@pytest.fixture(scope="module")
def split(wage):
    return wage.split(test_size=0.3, seed=0)


@pytest.fixture(scope="module")
def fitted(split):
    train, test = split
    markov = MarkovModel(train).fit()
    mnl = MNLogitModel(train, features=["prev_occupation", "educ"]).fit(cov_type="cluster")
    logq = log_softmax(np.log(markov.predict(test).to_numpy()) / 0.8, axis=1) - 0.2
    llm_model = LLMModel.from_scores(test, logq, name="scores")
    return {
        "markov": markov,
        "marginal": MarginalModel(train, smoothing=0.5).fit(),
        "mnl": mnl,
        "llm": llm_model.fit(calibrate=True),
        "llm_uncalibrated": llm_model.fit(),
        "pool": LogLinearPoolModel(test, {"markov": markov, "mnl": mnl}).fit(),
    }


def reported(fitted, split, key):
    """Every object that reports: the results classes, a comparison and a test result."""
    if key == "comparison":
        return compare({"Markov": fitted["markov"], "Marginal": fitted["marginal"]}, split[1])
    if key == "test":
        return vuong_test(fitted["markov"], fitted["marginal"], split[1])
    return fitted[key]


KEYS = ["markov", "marginal", "mnl", "llm", "llm_uncalibrated", "pool", "comparison", "test"]


@pytest.mark.parametrize("key", KEYS)
def test_every_result_renders_and_round_trips(tmp_path, fitted, split, key):
    obj = reported(fitted, split, key)
    smry = obj.summary()
    # one rule: summary() returns the escaping statsmodels summary2.Summary
    assert isinstance(smry, Summary) and isinstance(smry, summary2.Summary)
    text = smry.as_text()
    assert str(obj) == text or key == "test"  # a test prints one field per line
    assert text.strip() and smry.title
    html = obj.to_html()
    assert html == obj._repr_html_() and html.startswith("<table") and "</table>" in html
    assert f"<caption>{escape_html(smry.title)}</caption>" in html
    latex = obj.to_latex()
    assert latex.startswith("\\begin{table}") and "\\end{tabular}" in latex
    assert latex.count("\\begin{tabular}") == latex.count("\\end{tabular}") == len(smry.tables)
    if not isinstance(obj, TransitionResults):
        return
    path = tmp_path / f"{key}.zip"
    obj.save(path)
    back = type(obj).load(path)
    assert type(back) is type(obj)
    assert back.summary().as_text() == text
    assert back.to_latex() == latex and back.to_html() == html


@pytest.mark.parametrize("key", KEYS[:6])
def test_every_result_has_the_common_fields(fitted, key):
    res = fitted[key]
    assert isinstance(res.params, (pd.Series, pd.DataFrame))
    assert res.cov_type is None or res.cov_type in ("nonrobust", "HC0", "cluster")
    assert isinstance(res.converged, bool) and isinstance(res.iterations, int)
    assert res.mle_retvals["converged"] == res.converged
    assert res.mle_retvals["iterations"] == res.iterations
    assert res.n_persons == res.panel.n_persons and res.nobs > 0
    assert type(res).__name__ in persistence.registered()
    assert type(res).__name__ in labor_econ.__all__ and hasattr(labor_econ, type(res).__name__)


def test_html_and_latex_escape_names_titles_and_labels(fitted, split):
    markov = MarkovModel(split[0]).fit()
    markov.name = HOSTILE
    cmp = compare({HOSTILE: markov, "Marginal": fitted["marginal"]}, split[1])
    test = vuong_test(markov, fitted["marginal"], split[1])
    for obj, shown in ((cmp, HOSTILE), (test, repr(HOSTILE))):  # a test quotes the name
        html, latex = obj.to_html(), obj.to_latex()
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "\\input{" not in latex and "input\\{/etc/passwd\\}" in latex
        # every special character of the name is escaped once, none left raw
        assert escape_latex(shown) in latex and escape_html(shown) in html
    smry = Summary()
    smry.add_title(HOSTILE)
    smry.add_dict({HOSTILE: HOSTILE})
    smry.add_df(pd.DataFrame({HOSTILE: [HOSTILE]}, index=[HOSTILE]))
    smry.add_text(HOSTILE)
    html, latex = smry.as_html(), smry.as_latex()
    # title, the two dict cells, column, index, cell and note
    assert html.count(escape_html(HOSTILE)) == 7 and "<script>" not in html
    assert latex.count(escape_latex(HOSTILE)) == 7
    assert not re.search(r"(?<!\\textbackslash\{\})\\input", latex)


def test_escaping_rules():
    assert escape_html('<a href="x">&</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
    assert escape_latex("\\&%$#_{}~^") == (
        "\\textbackslash{}\\&\\%\\$\\#\\_\\{\\}\\textasciitilde{}\\textasciicircum{}"
    )
    assert escape_latex("plain text 1.5") == "plain text 1.5"


def test_old_report_and_plotting_paths_still_import():
    from labor_econ.plotting import calibration_plot, calibration_table
    from labor_econ.report import calibration_plot as plot2
    from labor_econ.report import header, info_summary, taxonomy_label

    assert calibration_plot is plot2 and callable(calibration_table)
    assert callable(header) and callable(info_summary) and callable(taxonomy_label)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from labor_econ.diagnostics.hypotheses import TestResult, encompassing_test, lr_test
    from labor_econ.models.inference import TestResult as FloorTestResult
    from labor_econ.models.pool import encompassing_test as pool_test

    assert TestResult is FloorTestResult and encompassing_test is pool_test and callable(lr_test)


def test_old_names_warn_and_are_the_new_classes():
    import labor_econ.models as models
    from labor_econ.models import llm, markov, mnlogit, pool

    pairs = [
        (markov, "MarkovTransitionModel", MarkovModel),
        (mnlogit, "TransitionMNLogit", MNLogitModel),
        (mnlogit, "TransitionMNLogitResults", labor_econ.MNLogitResults),
        (llm, "LLMTransitionModel", LLMModel),
        (llm, "LLMTransitionResults", labor_econ.LLMResults),
        (pool, "LogLinearPool", LogLinearPoolModel),
    ]
    for module, old, new in pairs:
        for where in (module, models, labor_econ):
            with pytest.warns(FutureWarning, match=f"{old} is renamed {new.__name__}"):
                assert getattr(where, old) is new
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        labor_econ.models.Nope  # noqa: B018


def test_archives_saved_under_the_old_names_load(tmp_path, fitted):
    import json
    import zipfile

    path = tmp_path / "llm.zip"
    fitted["llm"].save(path)
    old = tmp_path / "old.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "manifest.json":
                manifest = json.loads(data)
                assert manifest["class"] == "LLMResults"
                manifest["class"] = "LLMTransitionResults"  # what version 0.x wrote
                data = json.dumps(manifest).encode()
            dst.writestr(item, data)
    assert type(TransitionResults.load(old)) is labor_econ.LLMResults


def test_the_results_floor_imports_no_estimator_or_diagnostics():
    """The floor (base, render, inference, persistence, clogit) sits below the estimators:
    none of its modules imports an estimator's module, the diagnostics or the report (at
    module level or inside functions), which broke the 7-file import cycle."""
    import ast
    from pathlib import Path

    models = Path(labor_econ.__file__).parent / "models"
    above = {"llm", "markov", "mnlogit", "pool", "design"}
    for floor in ("base", "render", "inference", "persistence", "clogit", "renamed"):
        tree = ast.parse((models / f"{floor}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                module = (node.module or "").split(".")
                names = {a.name for a in node.names}
                if node.level == 1:
                    assert not (set(module) & above or (not node.module and names & above)), (
                        f"models/{floor}.py imports {node.module or names} from the estimators"
                    )
                else:
                    assert module[0] not in {"diagnostics", "report", "cli"}, (
                        f"models/{floor}.py imports {node.module} from a higher layer"
                    )
            elif isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("labor_econ"), floor
