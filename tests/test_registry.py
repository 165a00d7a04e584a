from __future__ import annotations

import pytest

import hwnas
from hwnas.errors import HwnasError, UnknownNameError
from hwnas.registry import Registry


def test_register_get_and_list_with_pattern() -> None:
    reg: Registry[int] = Registry("widget")

    @reg.register("alpha")
    def alpha() -> int:  # the decorator returns the entry unchanged
        return 1

    reg.add("beta", 2)  # type: ignore[arg-type]
    assert reg.get("alpha") is alpha
    assert reg.names() == ["alpha", "beta"]
    assert reg.names("b*") == ["beta"]
    assert "alpha" in reg and "gamma" not in reg


def test_register_class_names_the_class() -> None:
    reg: Registry[type] = Registry("widget")

    @reg.register_class("gizmo")
    class Gizmo:
        name: str

    assert reg.get("gizmo") is Gizmo and Gizmo.name == "gizmo"
    # the packages' facades are this one implementation
    assert hwnas.register_space.__func__ is Registry.register_class  # type: ignore[attr-defined]
    assert hwnas.list_strategies.__func__ is Registry.names  # type: ignore[attr-defined]


def test_unknown_name_lists_valid_names() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("alpha", 1)
    reg.add("beta", 2)
    with pytest.raises(UnknownNameError) as info:
        reg.get("gamma")
    assert isinstance(info.value, HwnasError)
    assert str(info.value) == "unknown widget 'gamma'; valid: alpha, beta"


def test_duplicate_registration_is_refused() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("alpha", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("alpha", 2)


def test_builtin_registries_are_populated() -> None:
    assert "nb201" in hwnas.list_spaces()
    assert {"random", "nsga2"} <= set(hwnas.list_strategies())
    assert {"raspi4", "pixel3", "eyeriss", "fpga", "gold_6226", "titanx_256"} <= set(
        hwnas.list_targets()
    )
    assert len(hwnas.list_targets("*")) >= 27


def test_import_does_not_load_torch_or_touch_global_state() -> None:
    import subprocess
    import sys

    code = (
        "import random, logging, sys; state = random.getstate(); import hwnas; "
        "hwnas.Study(budget=5).optimize(); "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert random.getstate() == state, 'global random seeded'; "
        "assert not logging.getLogger().handlers, 'root logger configured'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_an_unknown_name_suggests_the_close_ones() -> None:
    import pytest

    from hwnas.errors import UnknownNameError
    from hwnas.strategies import get_strategy

    with pytest.raises(UnknownNameError, match=r"'linsa'; did you mean 'linas'\? valid: "):
        get_strategy("linsa")
    with pytest.raises(UnknownNameError) as nothing_close:
        get_strategy("zzz")
    assert "did you mean" not in str(nothing_close.value)
