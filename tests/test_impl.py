"""Resolving the implementation under test."""

import pytest

from forget_conformance import impl


def test_aliases():
    import chainer.functions

    import forget_conformance.reference as forget_impl

    assert impl.resolve("reference").forget is forget_impl.forget
    assert impl.resolve("chainer").forget is chainer.functions.forget
    assert impl.resolve("chainer").is_upstream


def test_dotted_attribute():
    assert impl.resolve("forget_conformance.reference._forget:_Forget.call").forget is not None


def test_option_beats_env_beats_default(monkeypatch):
    monkeypatch.delenv(impl.ENV_VAR, raising=False)
    assert impl.chosen_name() == "reference"
    monkeypatch.setenv(impl.ENV_VAR, "chainer")
    assert impl.chosen_name() == "chainer"
    assert impl.chosen_name("x:y") == "x:y"


@pytest.mark.parametrize("name", ["", ":", "mod:", ":attr", "nodots"])
def test_malformed_names(name):
    with pytest.raises(impl.ImplementationError, match="MODULE:ATTR"):
        impl.resolve(name)
