"""Registries: one decorator that reads the class's name, built-ins loaded on first use, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import pytest

from riposte.actions import ACTIONS
from riposte.core.registry import Registry, UnknownNameError
from riposte.notifiers import NOTIFIERS, Route, by_route
from riposte.sources import SOURCES


class Thing:
    name: ClassVar[str] = "thing"


def test_the_decorator_registers_a_class_under_its_own_name() -> None:
    registry: Registry[type[Thing]] = Registry("thing")
    assert registry.register(Thing) is Thing
    assert registry.get("thing") is Thing
    assert registry.names() == ("thing",)
    assert "thing" in registry
    assert list(registry) == [("thing", Thing)]


def test_a_class_without_a_name_or_a_second_class_with_the_same_name_is_refused() -> None:
    registry: Registry[type[object]] = Registry("thing")
    with pytest.raises(TypeError, match="no 'name'"):
        registry.register(object)
    registry.register(Thing)
    registry.register(Thing)  # re-registering the same class (a module reloaded) is harmless
    other = type("Other", (), {"name": "thing"})
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(other)


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown action 'nuke'; valid: block_ip"):
        ACTIONS.get("nuke")


def test_builtins_are_imported_on_first_use_not_on_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "riposte_plugin_sample.py").write_text(
        "from tests.unit.test_registry import LAZY, Thing\nLAZY.register(Thing)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys.modules[__name__], "LAZY", Registry("thing", ("riposte_plugin_sample",)))
    assert "riposte_plugin_sample" not in sys.modules
    assert LAZY.names() == ("thing",)  # the first read imports the listed module, which registers itself
    assert "riposte_plugin_sample" in sys.modules
    sys.modules.pop("riposte_plugin_sample", None)


LAZY: Registry[type[Thing]] = Registry("thing")


def test_every_registry_holds_classes_with_the_name_they_are_registered_by() -> None:
    for registry in (SOURCES, ACTIONS, NOTIFIERS):
        assert registry.names()
        for name, cls in registry:
            assert isinstance(cls, type)
            assert cls.name == name


def test_notifiers_declare_their_route_and_secret() -> None:
    assert by_route(Route.NOTIFY) == ("slack",)
    assert by_route(Route.PAGE) == ("pagerduty",)
    fields = [cls.secret.field for _, cls in NOTIFIERS]
    assert len(set(fields)) == len(fields)
    for _, cls in NOTIFIERS:
        assert cls.secret.default.startswith("riposte/")
        assert cls.secret.description
