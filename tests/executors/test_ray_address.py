"""Which cluster the Ray executor starts or joins, and how Ray's refusals read, with Ray
stood in for by a recorder: no cluster starts, so this runs without Ray installed."""

from __future__ import annotations

from typing import Any

import pytest

import hwnas
from hwnas.errors import HwnasError
from hwnas.executors import make_executor, ray_cluster

#: Ray 2.60's words when `address="auto"` finds no cluster (ray/_private/services.py)
RAY_NO_CLUSTER = (
    "Could not find any running Ray instance. Please specify the one to connect to by "
    "setting `--address` flag or `RAY_ADDRESS` environment variable."
)


class RecordingRay:
    """Records `ray.init`'s arguments, then refuses to connect as Ray does."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        raise ConnectionError(RAY_NO_CLUSTER)


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> RecordingRay:
    fake = RecordingRay()
    monkeypatch.setattr(ray_cluster, "_import_ray", lambda: fake)
    return fake


def test_without_an_address_the_cluster_is_a_fresh_private_one(
    fake_ray: RecordingRay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray's own default (`address=None`) joins a cluster that `ray start` left on this
    machine, or RAY_ADDRESS's; hwnas asks for a new local instance."""
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    study = hwnas.Study(budget=1, executor=make_executor("ray", workers=2))
    with pytest.raises(HwnasError):
        study.optimize()
    (call,) = fake_ray.calls
    assert call["address"] == "local" and call["num_cpus"] == 2


def test_rays_refusal_names_hwnas_flag_not_rays(fake_ray: RecordingRay) -> None:
    study = hwnas.Study(budget=1, executor=make_executor("ray", address="auto"))
    with pytest.raises(HwnasError) as raised:
        study.optimize()
    message = str(raised.value)
    assert message.startswith("cannot connect to the Ray cluster at auto: Could not find")
    assert "--ray-address HOST:PORT (make_executor(..., address=...) in Python)" in message
    assert "`--address`" not in message and "RAY_ADDRESS" not in message


@pytest.mark.parametrize(
    "ray_words",
    [
        RAY_NO_CLUSTER,
        (
            "Found multiple active Ray instances: {'a:1', 'b:2'}. Please specify the one to "
            "connect to by setting the `--address` flag or `RAY_ADDRESS` environment variable."
        ),
        (
            "You can override this by setting the `--address` flag or `RAY_ADDRESS` "
            "environment variable."
        ),
    ],
)
def test_every_wording_of_rays_address_advice_is_translated(ray_words: str) -> None:
    translated = ray_cluster.in_hwnas_terms(ray_words)
    assert "--address`" not in translated and "RAY_ADDRESS" not in translated
    assert "--ray-address HOST:PORT" in translated


#: what Ray 2.x logs (not raises) when `address="auto"` finds several local clusters
RAY_MULTIPLE_WARNING = (
    "Found multiple active Ray instances: {'a:1', 'b:2'}. Connecting to latest cluster at "
    "b:2. You can override this by setting the `--address` flag or `RAY_ADDRESS` "
    "environment variable."
)


class WarningRay(RecordingRay):
    """Logs Ray's warning through Ray's own logger while connecting, as Ray does."""

    def init(self, **kwargs: Any) -> None:
        import logging

        logging.getLogger("ray._private.services").warning(RAY_MULTIPLE_WARNING)
        super().init(**kwargs)


def test_rays_logged_warning_names_hwnas_flag(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ray_cluster, "_import_ray", WarningRay)
    study = hwnas.Study(budget=1, executor=make_executor("ray", address="auto"))
    with caplog.at_level("WARNING", logger="ray._private.services"), pytest.raises(HwnasError):
        study.optimize()
    (logged,) = [r.getMessage() for r in caplog.records if "multiple active" in r.getMessage()]
    assert "--ray-address HOST:PORT" in logged and "`--address`" not in logged
    assert "RAY_ADDRESS" not in logged
    # only while connecting: the filter is gone afterwards
    import logging

    assert not logging.getLogger("ray._private.services").filters
