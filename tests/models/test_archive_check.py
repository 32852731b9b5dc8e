"""Results zips checked against their schema: every tampering refused with one error class
naming the file and the member, a zip bomb refused before anything is allocated."""

import io
import json
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from scipy.special import log_softmax
from statsmodels.tools.sm_exceptions import CollinearityWarning

from labor_econ.models.archive_check import MAX_MEMBER_BYTES, ResultsFileError
from labor_econ.models.base import TransitionResults
from labor_econ.models.llm import LLMModel
from labor_econ.models.markov import MarginalModel, MarkovModel
from labor_econ.models.mnlogit import MNLogitModel
from labor_econ.models.pool import LogLinearPoolModel

pytestmark = pytest.mark.filterwarnings("ignore", category=CollinearityWarning)


@pytest.fixture(scope="module")
def split(wage):
    return wage.split(test_size=0.3, seed=0)


@pytest.fixture(scope="module")
def saved(split, tmp_path_factory):
    """Paths of saved Markov, marginal, MNLogit and pool results."""
    train, test = split
    folder = tmp_path_factory.mktemp("saved")
    markov = MarkovModel(train).fit()
    mnl = MNLogitModel(train, features=["prev_occupation"]).fit()
    fitted = {
        "markov": markov,
        "marginal": MarginalModel(train).fit(),
        "mnl": mnl,
        "pool": LogLinearPoolModel(test, {"markov": markov, "mnl": mnl}).fit(),
        "other": MarkovModel(test).fit(),
        "llm": LLMModel.from_scores(
            test, log_softmax(np.log(markov.predict(test).to_numpy()), axis=1), name="scores"
        ).fit(),
    }
    paths = {}
    for key, res in fitted.items():
        paths[key] = folder / f"{key}.zip"
        res.save(paths[key])
    return paths


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path, content: dict[str, bytes] | list[tuple[str, bytes]]) -> None:
    items = content.items() if isinstance(content, dict) else content
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, blob in items:
            zf.writestr(name, blob)


def tampered(src, dst, **replace) -> None:
    """A copy of the zip ``src`` with members replaced (keyword: member name with '/' and
    '.' written as '__' and '_')."""
    content = members(src)
    for key, blob in replace.items():
        content[
            {"manifest": "manifest.json", "panel": "panel.parquet", "arrays": "arrays.npz"}[key]
        ] = blob
    write_zip(dst, content)


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def members_npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def arrays_of(path) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(members(path)["arrays.npz"])) as stored:
        return {k: stored[k] for k in stored.files}


def manifest_of(path) -> dict:
    return json.loads(members(path)["manifest.json"])


def refused(path, member: str, match: str) -> ResultsFileError:
    with pytest.raises(ResultsFileError, match=match) as info:
        TransitionResults.load(path)
    err = info.value
    assert str(path) in str(err) and err.member.startswith(member), (err.member, str(err))
    assert isinstance(err, ValueError)  # the command line's exit 1, old callers' except
    return err


# -- member names ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, match",
    [
        ("../evil.txt", "unsafe member name"),
        ("/etc/passwd", "unsafe member name"),
        ("components/../../x.zip", "unsafe member name"),
        ("model.pkl", "unexpected member"),
        ("components/1.zip", r"numbered \[1\], not 0, 1"),
    ],
)
def test_member_names_are_checked(saved, tmp_path, name, match):
    content = list(members(saved["markov"]).items()) + [(name, b"x")]
    path = tmp_path / "bad.zip"
    write_zip(path, content)
    refused(path, repr(name) if "number" not in match else "components/", match)


def test_duplicate_and_missing_members(saved, tmp_path):
    content = list(members(saved["markov"]).items())
    path = tmp_path / "twice.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        write_zip(path, [*content, content[-1]])
    refused(path, content[-1][0], "stored twice")
    path = tmp_path / "missing.zip"
    write_zip(path, [(n, b) for n, b in content if n != "arrays.npz"])
    refused(path, "arrays.npz", "missing")
    path = tmp_path / "other.zip"
    write_zip(path, {"readme.txt": b"another zip", "../x": b""})
    refused(path, "manifest.json", "is not a saved labor_econ results file \\(no manifest\\)")


# -- sizes -----------------------------------------------------------------------------------
def _bomb(path, manifest: bytes, panel: bytes, unpacked: int) -> None:
    """A results zip whose arrays.npz (one .npy of zeros) unpacks to ``unpacked`` bytes,
    written in chunks so that the test itself never holds it in memory."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (unpacked // 8,)}
    )
    chunk = bytes(2**22)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", manifest)
        zf.writestr("panel.parquet", panel)
        with zf.open("arrays.npz", "w", force_zip64=True) as outer:
            with zipfile.ZipFile(outer, "w") as inner:  # stored, as np.savez writes
                with inner.open("probs.npy", "w", force_zip64=True) as npy:
                    npy.write(header.getvalue())
                    for _ in range(unpacked // len(chunk)):
                        npy.write(chunk)


def test_zip_bomb_refused_before_allocation(saved, tmp_path):
    """0.3 MB on disk, 300 MB unpacked: refused from the declared size, with no more than a
    few MB allocated (measured: 2.0 MB peak, 0.5 s, most of it reading the panel)."""
    content = members(saved["markov"])
    path = tmp_path / "bomb.zip"
    _bomb(path, content["manifest.json"], content["panel.parquet"], 300 * 2**20)
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    start = time.perf_counter()
    try:
        refused(path, "arrays.npz", r"declares 314,5\d\d,\d\d\d bytes unpacked.*without unpacking")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    assert time.perf_counter() - start < 5


def test_mnlogit_zip_bomb_refused(saved, tmp_path):
    """The MNLogit's arrays have no fixed shape: their bound comes from the most design
    columns and outcomes the stored panel allows (here 606,336 bytes; the real file 42,552)."""
    content = members(saved["mnl"])
    path = tmp_path / "bomb.zip"
    _bomb(path, content["manifest.json"], content["panel.parquet"], 300 * 2**20)
    refused(path, "arrays.npz", r"MNLogitResults on this panel stores at most")


def test_compare_reports_a_tampered_file_without_a_traceback(tmp_path, capsys):
    from labor_econ.cli import main
    from labor_econ.datasets import simulate_panel

    panel = simulate_panel(30, years=[1990, 1991, 1992, 1994], seed=4)
    data = tmp_path / "careers.csv"
    panel.data.to_csv(data, index=False)
    good = tmp_path / "markov.zip"
    MarkovModel(panel).fit().save(good)
    stored = arrays_of(good)
    bad = tmp_path / "bad.zip"
    tampered(good, bad, arrays=npz(probs=-stored["probs"], counts=stored["counts"]))
    code = main(
        ["compare", str(data), "--id", "pid", "--time", "year", "--occupation", "occ"]
        + ["--results", f"Markov={bad}", "--out", str(tmp_path / "out")]
    )
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "bad.zip: member arrays.npz:probs" in err and "summing to one" in err


def test_member_over_the_documented_limit(saved, tmp_path, monkeypatch):
    from labor_econ.models import archive_check

    assert MAX_MEMBER_BYTES == 2 * 2**30
    monkeypatch.setattr(archive_check, "MAX_MEMBER_BYTES", 1000)
    refused(saved["markov"], "panel.parquet", "over the limit of 1,000")


def test_npy_header_shape_and_dtype_checked_before_reading(saved, tmp_path):
    k = 9
    stored = arrays_of(saved["markov"])
    cases = [
        (dict(stored, probs=np.full((k + 1, k), 1 / k)), "arrays.npz:probs", r"shape \(10, 9\)"),
        (dict(stored, probs=stored["probs"].astype(np.float32)), "arrays.npz:probs", "float32"),
        (dict(stored, extra=np.zeros(3)), "arrays.npz:extra", "unexpected array"),
        ({"probs": stored["probs"]}, "arrays.npz", r"lacks the array\(s\) \['counts'\]"),
    ]
    for i, (arrays, member, match) in enumerate(cases):
        path = tmp_path / f"shape{i}.zip"
        tampered(saved["markov"], path, arrays=npz(**arrays))
        refused(path, member, match)
    # an object array (a pickle) is refused from its header, never unpickled
    path = tmp_path / "pickle.zip"
    buffer = io.BytesIO()
    np.savez(buffer, probs=np.array([{"a": 1}] * 9, dtype=object), counts=stored["counts"])
    tampered(saved["markov"], path, arrays=buffer.getvalue())
    refused(path, "arrays.npz:probs", "object array")
    # a header declaring 80 GB over a few bytes of data: refused from the header
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**10,)}
    )
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("probs.npy", header.getvalue() + bytes(64))
        zf.writestr("counts.npy", members_npy(stored["counts"]))
    path = tmp_path / "header.zip"
    tampered(saved["markov"], path, arrays=inner.getvalue())
    refused(path, "arrays.npz:probs", "does not fit the declared size")
    path = tmp_path / "notnpz.zip"
    tampered(saved["markov"], path, arrays=b"garbage")
    refused(path, "arrays.npz", "not a NumPy .npz")


# -- values ----------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["negative", "sum 3.5", "nan", "above one"])
def test_probabilities_must_be_a_distribution(saved, tmp_path, how):
    stored = arrays_of(saved["markov"])
    probs = stored["probs"].copy()
    if how == "negative":
        probs[2, :2] = [-0.1, probs[2, 0] + probs[2, 1] + 0.1]
    elif how == "sum 3.5":
        probs[4] *= 3.5
    elif how == "nan":
        probs[0, 0] = np.nan
    else:
        probs[1] = 0.0
        probs[1, :2] = [1.5, -0.5]
    path = tmp_path / "probs.zip"
    tampered(saved["markov"], path, arrays=npz(probs=probs, counts=stored["counts"]))
    refused(path, "arrays.npz:probs", r"not probabilities in \[0, 1\] summing to one")


def test_marginal_probabilities_checked(saved, tmp_path):
    stored = arrays_of(saved["marginal"])
    path = tmp_path / "marginal.zip"
    tampered(
        saved["marginal"], path, arrays=npz(probs=stored["probs"] * 2, counts=stored["counts"])
    )
    refused(path, "arrays.npz:probs", "summing to one")


def test_another_panels_careers_are_refused(saved, tmp_path):
    path = tmp_path / "swapped.zip"
    tampered(saved["markov"], path, panel=members(saved["other"])["panel.parquet"])
    refused(path, "arrays.npz:counts", "differ from those of the stored panel")
    stored = arrays_of(saved["markov"])
    counts = stored["counts"].copy()
    counts[0, 0] += 0.5
    tampered(saved["markov"], path, arrays=npz(probs=stored["probs"], counts=counts))
    refused(path, "arrays.npz:counts", "whole numbers")


def test_mnlogit_arrays_checked(saved, tmp_path):
    stored = arrays_of(saved["mnl"])
    k = len(stored["params"])
    path = tmp_path / "mnl.zip"
    bad = dict(stored, params=np.where(np.arange(k) == 3, np.inf, stored["params"]))
    tampered(saved["mnl"], path, arrays=npz(**bad))
    refused(path, "arrays.npz:params", "NaN or infinite")
    tampered(saved["mnl"], path, arrays=npz(**dict(stored, cov=np.zeros((k - 1, k - 1)))))
    refused(path, "arrays.npz:cov", "square matrix as long as params")
    shorter = dict(stored, params=stored["params"][:-3], cov=stored["cov"][:-3, :-3])
    tampered(saved["mnl"], path, arrays=npz(**shorter))
    refused(path, "arrays.npz:params", "not a multiple of the 8 non-base outcomes")
    shorter = dict(stored, params=stored["params"][:-8], cov=stored["cov"][:-8, :-8])
    tampered(saved["mnl"], path, arrays=npz(**shorter))
    refused(path, "manifest.json: state / arrays.npz", "ValueError")  # the model's own check


def test_llm_scores_checked(saved, tmp_path):
    stored = arrays_of(saved["llm"])
    path = tmp_path / "llm.zip"
    for logq, member, match in [
        (np.where(np.arange(9) == 4, np.nan, stored["logq"]), "arrays.npz:logq", "NaN or positive"),
        (stored["logq"] + 1.0, "arrays.npz:logq", "NaN or positive log-scores"),
        (stored["logq"][:-1], "arrays.npz:logq", r"shape \(\d+, 9\), expected \(\d+, 9\)"),
    ]:
        tampered(saved["llm"], path, arrays=npz(**dict(stored, logq=logq)))
        refused(path, member, match)


def test_pool_components_checked(saved, tmp_path):
    content = members(saved["pool"])
    path = tmp_path / "pool.zip"
    write_zip(path, {n: b for n, b in content.items() if n != "components/1.zip"})
    refused(path, "manifest.json: state.names", "2 names but 1 components")
    # a tampered component is named inside the outer file
    inner = tmp_path / "inner.zip"
    stored = arrays_of(saved["markov"])
    tampered(
        saved["markov"], inner, arrays=npz(probs=stored["probs"] * 3.5, counts=stored["counts"])
    )
    write_zip(path, dict(content, **{"components/0.zip": inner.read_bytes()}))
    err = refused(path, "arrays.npz:probs", "summing to one")
    assert err.path.endswith("pool.zip:components/0.zip")


# -- manifest types and the Parquet table ----------------------------------------------------
def _manifest_cases(manifest: dict) -> list[tuple[object, str, str]]:
    def edit(fn):
        copy = json.loads(json.dumps(manifest))
        fn(copy)
        return copy

    return [
        ([manifest], "manifest.json", "a JSON object expected, got list"),
        (edit(lambda m: m.pop("state")), "manifest.json", r"missing key\(s\) \['state'\]"),
        (edit(lambda m: m["panel"].pop("taxonomy")), "manifest.json: panel", "missing key"),
        (edit(lambda m: m.update(version="1")), "manifest.json: version", "int expected"),
        (
            edit(lambda m: m["panel"].update(static="educ")),
            "manifest.json: panel: static",
            r"\[str\]",
        ),
        (
            edit(lambda m: m["panel"]["taxonomy"].update(codes={"a": 1})),
            "manifest.json: panel.taxonomy: codes",
            "expected",
        ),
        (
            edit(lambda m: m["panel"]["taxonomy"]["titles"].pop()),
            "manifest.json: panel.taxonomy",
            "9 codes but 8 titles",
        ),
        (
            edit(lambda m: m["state"].update(smoothing="one")),
            "manifest.json: state: smoothing",
            "number expected",
        ),
        (
            edit(lambda m: m["state"].update(smoothing=True)),
            "manifest.json: state: smoothing",
            "number expected",
        ),
        (edit(lambda m: m["state"].pop("smoothing")), "manifest.json: state", "missing key"),
        (
            edit(lambda m: m["panel"].update(id="no_such_column")),
            "panel.parquet",
            "lacks the column",
        ),
        (
            edit(lambda m: m["panel"]["taxonomy"].update(codes=list(range(100, 109)))),
            "panel.parquet",
            "PanelError|ValueError",
        ),
    ]


def test_manifest_types(saved, tmp_path):
    manifest = manifest_of(saved["markov"])
    for i, (bad, member, match) in enumerate(_manifest_cases(manifest)):
        path = tmp_path / f"manifest{i}.zip"
        tampered(saved["markov"], path, manifest=json.dumps(bad).encode())
        refused(path, member, match)
    for i, blob in enumerate([b"{not json", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000]):
        path = tmp_path / f"json{i}.zip"
        tampered(saved["markov"], path, manifest=blob)
        refused(path, "manifest.json", "not valid JSON")


def test_mnlogit_state_types(saved, tmp_path):
    manifest = manifest_of(saved["mnl"])
    manifest["state"]["features"] = "prev_occupation"
    path = tmp_path / "state.zip"
    tampered(saved["mnl"], path, manifest=json.dumps(manifest).encode())
    refused(path, "manifest.json: state: features", r"\[str\] expected")


def test_garbage_parquet(saved, tmp_path):
    path = tmp_path / "parquet.zip"
    tampered(saved["markov"], path, panel=b"PAR1 this is not parquet PAR1")
    refused(path, "panel.parquet", "not a readable Parquet table")


def test_untampered_files_still_load(saved):
    for key in ("markov", "marginal", "mnl", "pool", "llm"):
        assert TransitionResults.load(saved[key]).nobs > 0
