"""The proxy-feature accuracy predictor: estimator contract, and as `--quality predictor`
in a search (encoding-only features here, so no network is built)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

import hwnas
from hwnas.errors import HwnasError, SpecError
from hwnas.quality import get_quality
from hwnas.quality.predictor import ProxyFeaturizer, ProxyPredictor, parse_spec
from hwnas.spaces import get_space
from hwnas.tabular.nb201 import load_frame

pytest.importorskip("sklearn")


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    space = get_space("nb201")
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(n)]
    table = load_frame().set_index("arch_str")
    y = table.loc[[a.key for a in archs], "cifar10_test_acc_200ep"].to_numpy()
    return ProxyFeaturizer(space, "cifar10", proxies=())(archs), y


def test_fit_returns_self_and_predict_gives_mean_and_std() -> None:
    X, y = _data(150, seed=0)
    model = ProxyPredictor(n_members=3, n_estimators=60)
    assert model.fit(X[:100], y[:100]) is model
    mean, std = model.predict(X[100:])
    assert mean.shape == std.shape == (50,)
    assert (std >= 0).all() and std.max() > 0
    assert kendalltau(mean, y[100:]).statistic > 0.3  # learns something from 100 archs


def test_non_finite_proxy_values_are_floored() -> None:
    X = np.array([[1.0, 5.0], [2.0, -np.inf], [3.0, 7.0], [4.0, 9.0]])
    model = ProxyPredictor(n_members=1, n_estimators=10).fit(X, np.array([1.0, 0.0, 2.0, 3.0]))
    mean, _ = model.predict(np.array([[2.0, -np.inf], [np.nan, 7.0]]))
    assert np.isfinite(mean).all()


def test_predict_before_fit_is_an_error() -> None:
    with pytest.raises(HwnasError, match="not fitted"):
        ProxyPredictor().predict(np.zeros((1, 2)))


def test_spec_parsing() -> None:
    assert parse_spec("n=20,proxies=synflow+nwot,seed=3")["proxies"] == ("synflow", "nwot")
    assert parse_spec("labels.csv")["labels"] == "labels.csv"
    with pytest.raises(SpecError, match="n=INT"):
        parse_spec("trees=5")
    with pytest.raises(SpecError):
        get_quality("tabular:x")
    assert get_quality("predictor:n=5").spec == "n=5"


def test_predictor_is_the_quality_of_a_search(tmp_path: Path) -> None:
    study = hwnas.Study(
        objectives=["accuracy:max", "flops:min"], quality="predictor:n=40,proxies=,seed=1",
        budget=12, seed=0, out_dir=tmp_path / "run",
    ).optimize()  # fmt: skip
    evals = study.evaluations()
    assert (evals["status"] == "ok").all() and evals["accuracy"].between(0, 100).all()
    table = load_frame().set_index("arch_str")
    true = table.loc[evals["arch"], "cifar10valid_valid_acc_200ep"].to_numpy()
    assert not np.allclose(evals["accuracy"].to_numpy(), true)  # predicted, not looked up


def test_labels_csv_trains_the_predictor(tmp_path: Path) -> None:
    space = get_space("nb201")
    rng = np.random.default_rng(2)
    archs = list({a.key: a for a in (space.sample(rng) for _ in range(30))}.values())
    table = load_frame().set_index("arch_str")
    labels = tmp_path / "labels.csv"
    pd.DataFrame(
        {"arch": [a.key for a in archs],
         "accuracy": table.loc[[a.key for a in archs], "cifar10_test_acc_200ep"].to_numpy()}
    ).to_csv(labels, index=False)  # fmt: skip
    from hwnas.metrics import Metric
    from hwnas.quality.predictor import PredictorSource
    from hwnas.sources import EvalContext

    source = PredictorSource(EvalContext(space, "cifar10"), Metric("accuracy"), str(labels))
    source.featurizer.proxies = ()
    out = source.evaluate(archs[:3])
    assert len(out) == 3 and out[0].provenance["trained_on"] == str(labels)


def test_a_missing_labels_csv_is_refused_before_evaluating() -> None:
    pytest.importorskip("torch")  # check() first asks for the default proxies' torch
    from hwnas.evaluation import EvalContext
    from hwnas.metrics import Metric
    from hwnas.quality.predictor import PredictorSource

    space = get_space("nb201")
    missing = PredictorSource(EvalContext(space, "cifar10"), Metric("accuracy"), "nope.csv")
    with pytest.raises(HwnasError, match="nope.csv"):  # what a study checks before evaluating
        missing.check()


def test_default_features_are_the_effective_encoding_and_rank_well() -> None:
    """From 100 labelled cells (encodings only, no proxies); 0.82 on average over 2,000
    (docs/benchmarks/predictor.md), against about 0.6 for one-hot + op counts + paths."""
    X, y = _data(600, seed=3)
    assert (
        X.shape[1]
        == get_space("nb201").encode([get_space("nb201").parse("0")], "effective").shape[1]
    )
    mean, _ = ProxyPredictor(n_members=2, n_estimators=150).fit(X[:100], y[:100]).predict(X[100:])
    assert kendalltau(mean, y[100:]).statistic > 0.7


def test_more_training_architectures_than_the_space_holds_is_refused() -> None:
    # sampling 16,000 distinct cells of 15,625 never ended
    from hwnas.evaluation import EvalContext
    from hwnas.metrics import Metric
    from hwnas.quality.predictor import PredictorSource

    space = get_space("nb201")
    ctx = EvalContext(space, "cifar10")
    source = PredictorSource(ctx, Metric("accuracy"), "n=16000,proxies=")
    with pytest.raises(HwnasError, match="n=16000.*15625"):
        source.check()
    with pytest.raises(HwnasError, match="n=16000"):
        source.evaluate([space.sample(np.random.default_rng(0))])


GOOD_ROW = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.mark.parametrize(
    ("spec", "content", "message"),
    [
        ("labels.csv", b"arch,accuracy\n\xff\xfe\x00garbage\n", "not a readable CSV"),
        ("labels.csv", b"", "not a readable CSV"),
        ("labels.csv", f"arch,accuracy\n{GOOD_ROW},nan\n".encode(), "row 1: accuracy is not a"),
        ("labels.csv", b"hello world\nfoo\n", "needs columns arch and accuracy"),
        ("labels.csv", b"arch,accuracy\nnot-a-cell,50\n", "labels.csv, data row 1"),
        ("n=0,proxies=", None, "'n=0': train on at least 2"),
        ("n=-5,proxies=", None, "'n=-5': train on at least 2"),
        ("n=4,proxies=bogus", None, "unknown proxy 'bogus'"),
        ("n=4,proxies=nwot,data=npz:{tmp}/missing.npz", None, "missing.npz, which does not"),
    ],
)
def test_settings_that_fail_every_evaluation_are_refused_before_the_first(
    tmp_path: Path, spec: str, content: bytes | None, message: str
) -> None:
    # each was 'N evaluations (0 ok, N failed)', exit 0, the budget burnt on one cause
    if "bogus" in spec or "nwot" in spec:
        pytest.importorskip("torch")
    if content is not None:
        (tmp_path / spec).write_bytes(content)
        spec = str(tmp_path / spec)
    with pytest.raises(HwnasError, match=message):
        hwnas.Study(
            objectives=["accuracy:max", "flops:min"], quality=f"predictor:{spec.format(tmp=tmp_path)}",
            budget=3, out_dir=tmp_path / "run",
        )  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_proxies_score_the_searchs_own_data_unless_data_names_other() -> None:
    """`hwnas search --data D --quality predictor` scores its proxies on D, not on the
    stand-in images; `predictor:data=...` still wins."""
    from hwnas.metrics import Metric
    from hwnas.quality.predictor import PredictorSource
    from hwnas.sources import EvalContext

    space = get_space("nb201")
    ctx = EvalContext(space, "cifar10", quality="predictor", data="digits")
    own = PredictorSource(ctx, Metric("accuracy"), "n=4,proxies=nwot")
    assert own.featurizer.data == "digits"
    named = PredictorSource(ctx, Metric("accuracy"), "n=4,proxies=nwot,data=fashion-mnist")
    assert named.featurizer.data == "fashion-mnist"
    pytest.importorskip("torch")
    own.featurizer.proxy_rows([space.sample(np.random.default_rng(0))])
    assert "digits" in str(own.featurizer.provenance["data"])
