"""Property-based bad input: every parser answers malformed text, specs, run directories
and command lines with an `HwnasError` (exit code 2 on the CLI), never a traceback, and
never unpickles anything."""

from __future__ import annotations

import json
import pickle
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import hwnas
from hwnas._io import MAX_JSON_DEPTH, MAX_JSON_NUMBER, loads_json
from hwnas.cli import app
from hwnas.errors import HwnasError, SpecError
from hwnas.ledger import LEDGER_FILE
from hwnas.metrics import parse_constraint, parse_metric, parse_objective
from hwnas.spaces import get_space
from hwnas.spaces.nb201 import OPS

FAST = settings(max_examples=300, deadline=None)
SLOW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# text that is mostly made of the characters the grammars care about
SPEC_CHARS = st.sampled_from(list("abcxyz_019@:<>=.+-e |~ \t\n") + ["min", "max", "nan", "inf"])
spec_text = st.one_of(st.text(), st.lists(SPEC_CHARS, max_size=20).map("".join))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything unpickles while parsing user input."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("something unpickled user input")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


# --- metric, objective and constraint specs ---------------------------------------------------
@FAST
@given(spec_text)
def test_metric_specs_parse_or_raise_spec_error(text: str) -> None:
    for parse in (parse_metric, parse_objective, parse_constraint):
        try:
            parsed = parse(text)
        except SpecError as exc:
            assert str(exc)
            continue
        # whatever parses has a canonical spelling that parses back to the same thing
        spelled = parsed.name if parse is parse_metric else parsed.spec  # type: ignore[union-attr]
        assert parse(spelled) == parsed


@FAST
@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["<=", ">=", "<", ">"]),
)
def test_constraint_bound_survives_its_canonical_spelling(bound: float, op: str) -> None:
    c = parse_constraint(f"latency@pixel3{op}{bound!r}")
    assert parse_constraint(c.spec).bound == bound


@FAST
@given(
    st.sampled_from(["latency@pixel3", "params", "accuracy"]),
    st.sampled_from(["<=", ">=", "<", ">"]),
    st.text(alphabet=st.characters(categories=["Nd"]) | st.sampled_from(list(".e+-_")), min_size=1),
)
def test_constraint_bounds_are_read_from_ascii_only(metric: str, op: str, bound: str) -> None:
    # float() reads any script's digits and underscores ('<=٥' was 5)
    try:
        parsed = parse_constraint(f"{metric}{op}{bound}")
    except SpecError:
        return
    assert bound.strip().isascii() and "_" not in bound
    assert parse_constraint(parsed.spec) == parsed


@FAST
@given(st.text(max_size=30), st.text(max_size=10))
def test_objective_specs_parse_or_raise_spec_error(name: str, direction: str) -> None:
    try:
        parsed = parse_objective(f"{name}:{direction}")
    except SpecError:
        return
    assert parsed.direction in ("min", "max") and parse_objective(parsed.spec) == parsed


# --- JSON a user hands in: the bounded reader ------------------------------------------------
@FAST
@given(json_values)
def test_bounded_json_reads_what_json_reads_within_its_limits(value: object) -> None:
    text = json.dumps(value)
    try:
        assert json.dumps(loads_json(text, "doc")) == text  # NaN != NaN, so compare text
    except SpecError as exc:  # only a limit refuses a valid document
        assert any(word in str(exc) for word in ("nested", "characters")), exc


@FAST
@given(st.integers(0, 300), st.sampled_from(["[", '{"k": ']))
def test_bounded_json_refuses_exactly_what_nests_too_deep(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "0" + closer * depth
    if depth > MAX_JSON_DEPTH:
        with pytest.raises(SpecError, match="nested more than"):
            loads_json(text, "doc")
    else:
        assert loads_json(text, "doc") is not None


@FAST
@given(st.integers(1, 400), st.sampled_from(["", "-", "0.", "1e"]))
def test_bounded_json_refuses_exactly_the_numbers_too_long(digits: int, prefix: str) -> None:
    literal = prefix + "7" * digits
    if len(literal) > MAX_JSON_NUMBER:
        with pytest.raises(SpecError, match="a number of"):
            loads_json(f"[{literal}]", "doc")
    else:
        assert len(loads_json(f"[{literal}]", "doc")) == 1


@FAST
@given(st.binary(max_size=200))
def test_bounded_json_answers_any_bytes_with_a_value_or_spec_error(data: bytes) -> None:
    try:
        loads_json(data, "doc")
    except SpecError:
        pass


# --- architecture strings ---------------------------------------------------------------------
nb201_key = st.lists(st.integers(0, len(OPS) - 1), min_size=6, max_size=6).map(
    lambda genes: get_space("nb201").make(genes).key
)


@st.composite
def near_miss(draw: st.DrawFn) -> str:
    """A valid NB201 key with a few characters inserted, deleted or replaced."""
    key = list(draw(nb201_key))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(key)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(list("|+~0123456789_ ") + ["x", "²", "٣", "\x00"]))
        if action == "insert":
            key.insert(i, char)
        elif key and i < len(key):
            if action == "delete":
                del key[i]
            else:
                key[i] = char
    return "".join(key)


@FAST
@given(st.one_of(st.text(), near_miss(), st.integers().map(str), st.from_regex(r"\A-*[0-9²٣]+\Z")))
@example("²")  # str.isdigit() is true, int() refuses it
@example("1" * 5000)  # int() refuses more than 4300 digits
@example("|none~0|+|none~0|none~1|+|none~0|none~1|none~" + "0" * 5000 + "2|")
def test_nb201_parse_gives_an_architecture_or_a_spec_error(text: str) -> None:
    space = get_space("nb201")
    try:
        arch = space.parse(text)
    except SpecError:
        return
    assert space.parse(arch.key) == arch


# --- run directories: the ledger's configuration and rows --------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("run") / "run"
    hwnas.Study(budget=6, seed=0, strategy="random", out_dir=run).optimize()
    return run


@pytest.fixture
def copy_run(finished_run: Path, tmp_path: Path) -> Iterator:
    counter = iter(range(10**6))

    def copy() -> Path:
        target = tmp_path / f"copy{next(counter)}"
        shutil.copytree(finished_run, target)
        return target

    yield copy


def set_meta(run: Path, key: str, raw: str) -> None:
    db = sqlite3.connect(run / LEDGER_FILE)
    db.execute("UPDATE meta SET value = ? WHERE key = ?", (raw, key))
    db.commit()
    db.close()


def resume_and_continue(run: Path) -> None:
    """What a user does with a run directory: resume it, continue it, read its results."""
    study = hwnas.Study.resume(run, budget=8)
    study.optimize()
    study.summary()


@SLOW
@given(
    st.dictionaries(
        st.sampled_from(list(hwnas.study.StudyConfig.__dataclass_fields__)),
        json_values,
        min_size=1,
        max_size=3,
    )
)
def test_a_corrupted_stored_configuration_is_a_clear_error(copy_run, fields: dict) -> None:
    run = copy_run()
    config = json.loads(
        sqlite3.connect(run / LEDGER_FILE)
        .execute("SELECT value FROM meta WHERE key = 'config'")
        .fetchone()[0]
    )
    set_meta(run, "config", json.dumps({**config, **fields}))
    try:
        resume_and_continue(run)
    except HwnasError:
        pass


@SLOW
@given(st.one_of(st.text(max_size=30), json_values.map(json.dumps)))
def test_unreadable_meta_values_are_a_clear_error(copy_run, raw: str) -> None:
    run = copy_run()
    for key in ("config", "schema_version"):
        set_meta(run, key, raw)
        try:
            resume_and_continue(run)
        except HwnasError:
            pass


@SLOW
@given(
    st.sampled_from(
        [
            "genes",
            "metrics",
            "provenance",
            "status",
            "arch",
            "trial",
            "error",
            "started",
            "finished",
        ]
    ),
    st.one_of(st.text(max_size=20), json_values.map(json.dumps), st.integers(-(2**63), 2**63 - 1)),
)
def test_corrupted_evaluation_rows_are_a_clear_error(copy_run, column: str, raw: object) -> None:
    run = copy_run()
    db = sqlite3.connect(run / LEDGER_FILE)
    try:
        db.execute(f"UPDATE evaluations SET {column} = ? WHERE trial = 2", (raw,))
        db.commit()
    except sqlite3.IntegrityError:  # the schema itself refuses it
        return
    finally:
        db.close()
    try:
        resume_and_continue(run)
    except HwnasError:
        pass


@SLOW
@given(st.binary(max_size=200), st.integers(0, 10_000))
def test_a_damaged_ledger_file_is_a_clear_error(copy_run, garbage: bytes, cut: int) -> None:
    run = copy_run()
    path = run / LEDGER_FILE
    data = path.read_bytes()
    path.write_bytes(data[:cut] + garbage)
    for wal in run.glob(LEDGER_FILE + "-*"):
        wal.unlink()
    try:
        resume_and_continue(run)
    except HwnasError:
        pass


def test_config_json_is_not_what_resume_trusts(copy_run) -> None:
    run = copy_run()
    (run / "config.json").write_text("{not json")
    resume_and_continue(run)  # the ledger holds the configuration


# --- the command line --------------------------------------------------------------------------
runner = CliRunner()


def assert_clean(result, allowed: tuple[int, ...] = (0, 2)) -> None:
    """Exit 0 or 2, and on 2 one `error:` line, never a traceback."""
    assert result.exit_code in allowed, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "error" in result.output.lower()


@SLOW
@given(st.lists(spec_text, min_size=1, max_size=2), st.lists(spec_text, max_size=2))
def test_cli_search_with_any_specs(
    tmp_path: Path, objectives: list[str], constraints: list[str]
) -> None:
    args = ["search", "--budget", "2", "--strategy", "random", "-q"]
    for o in objectives:
        args += ["--objective", o]
    for c in constraints:
        args += ["--constraint", c]
    out = tmp_path / f"r{abs(hash((tuple(objectives), tuple(constraints))))}"
    shutil.rmtree(out, ignore_errors=True)
    assert_clean(runner.invoke(app, [*args, "--out", str(out)]))


@SLOW
@given(st.lists(st.text(max_size=20), min_size=1, max_size=3), st.sampled_from(["random", "nsga2"]))
def test_cli_search_with_any_strategy_options(
    tmp_path: Path, options: list[str], strategy: str
) -> None:
    args = ["search", "--budget", "2", "--strategy", strategy, "-q"]
    for o in options:
        args += ["--option", o]
    out = tmp_path / f"o{abs(hash((tuple(options), strategy)))}"
    shutil.rmtree(out, ignore_errors=True)
    assert_clean(runner.invoke(app, [*args, "--out", str(out)]))


@SLOW
@given(st.one_of(st.text(max_size=40), near_miss()), st.lists(spec_text, max_size=2))
def test_cli_evaluate_with_any_architecture_and_metrics(arch: str, metrics: list[str]) -> None:
    assume(not arch.startswith("-"))  # would be read as an option
    args = ["evaluate", "--json", "--", arch]
    for m in metrics:
        args[1:1] = ["--metric", m]
    assert_clean(runner.invoke(app, args))


@pytest.mark.parametrize(
    "args",
    [
        ["search", "--executor", "threads"],
        ["search", "--executor", "inprocess", "--workers", "2"],
        ["search", "--workers", "0", "--executor", "process"],
        ["search", "--timeout", "-3", "--executor", "process"],
        ["search", "--ray-address", "auto"],
        ["search", "--executor", "ray", "--ray-address", "nonsense"],
        ["search", "--executor", "ray", "--ray-address", "127.0.0.1:9"],  # nothing listens
    ],
)
def test_cli_bad_executor_options(args: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "x")])
    assert_clean(result, allowed=(2,))


def test_cli_resume_of_a_damaged_run(copy_run) -> None:
    run = copy_run()
    (run / LEDGER_FILE).write_bytes(b"SQLite format 3\x00" + b"\xff" * 300)
    for wal in run.glob(LEDGER_FILE + "-*"):  # the write-ahead log could restore the pages
        wal.unlink()
    for args in (["search", "--resume", str(run)], ["show", str(run)], ["report", str(run)]):
        result = runner.invoke(app, args)
        assert_clean(result, allowed=(2,))


# --- files users hand in: device specs, latency profiles, predictor labels --------------------
def _mutations(valid: dict) -> st.SearchStrategy[object]:
    """A valid document with keys dropped or values replaced, or any JSON value at all."""
    keys = st.sampled_from(sorted(valid))
    replaced = st.dictionaries(keys, json_values, max_size=3).map(lambda d: {**valid, **d})
    dropped = st.sets(keys, max_size=3).map(
        lambda ks: {k: v for k, v in valid.items() if k not in ks}
    )
    return st.one_of(replaced, dropped, json_values)


def _write(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


VALID_SPEC = json.loads(
    (Path(hwnas.__file__).parent / "data" / "devices" / "stm32f746.json").read_text()
)


@FAST
@given(_mutations(VALID_SPEC))
@example({**VALID_SPEC, "memory_bandwidth_bytes_per_s": float("nan")})
@example({**VALID_SPEC, "peak_ops_per_s": {"fp32": -1.0}})
def test_device_spec_files_load_or_raise_spec_error(tmp_path_factory, doc: object) -> None:
    from hwnas.cost.roofline import load_spec

    path = _write(tmp_path_factory.mktemp("spec"), "device.json", json.dumps(doc))
    try:
        spec = load_spec.__wrapped__(str(path))
    except HwnasError:
        return
    assert spec.memory_bandwidth_bytes_per_s > 0
    assert all(v > 0 for v in spec.peak_ops_per_s.values())


@pytest.fixture(scope="module")
def valid_profile() -> dict:
    from hwnas.cost.profile import LatencyPredictor

    meta = {"space": "nb201", "dataset": "cifar10", "host": "test", "target": "local-cpu"}
    return LatencyPredictor(meta, {"conv:a": 0.5, "conv:b": 1.5}, [0.1, 1.0, 0.0]).to_dict()


@FAST
@given(st.one_of(st.text(max_size=50), st.binary(max_size=50).map(repr)))
def test_latency_profile_text_loads_or_raises_spec_error(tmp_path_factory, text: str) -> None:
    from hwnas.cost.profile import LatencyPredictor

    path = _write(tmp_path_factory.mktemp("lut"), "profile.json", text)
    with pytest.raises(HwnasError):
        LatencyPredictor.load(path)


@FAST
@given(st.data())
def test_mutated_latency_profiles_load_or_raise_spec_error(
    tmp_path_factory, valid_profile: dict, data: st.DataObject
) -> None:
    from hwnas.cost.profile import LatencyPredictor

    doc = data.draw(_mutations(valid_profile))
    path = _write(tmp_path_factory.mktemp("lut"), "profile.json", json.dumps(doc))
    try:
        LatencyPredictor.load(path)
    except HwnasError:
        pass


label_csv = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80),
    st.lists(
        st.tuples(st.one_of(st.text(max_size=30), near_miss()), st.text(max_size=8)), max_size=4
    ).map(lambda rows: "arch,accuracy\n" + "".join(f"{a},{v}\n" for a, v in rows)),
)


@FAST
@given(label_csv)
def test_predictor_label_csvs_load_or_raise_clear_errors(tmp_path_factory, content) -> None:
    from hwnas.metrics import Metric
    from hwnas.quality.predictor import PredictorSource
    from hwnas.sources import EvalContext

    path = _write(tmp_path_factory.mktemp("labels"), "labels.csv", content)
    ctx = EvalContext(get_space("nb201"), "cifar10", f"predictor:{path}")
    source = PredictorSource(ctx, Metric("accuracy"), str(path))
    try:
        archs, y, _ = source._training_set()
    except HwnasError:
        return
    assert len(archs) == len(y) > 0
    assert np.isfinite(y).all()
