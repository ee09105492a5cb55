"""The command's argument types apply the services' rules (``services.rules``): the
same limits and messages as the API and the admin, never a range typed again."""

from __future__ import annotations

import argparse

import pytest

from aigen_app.client.catalog import MAX_EDGE
from aigen_app.management import arguments
from aigen_app.services import InvalidInput, rules


def _service_message(check: object, *args: object) -> str:
    with pytest.raises(InvalidInput) as refused:
        check(*args)  # type: ignore[operator]
    return refused.value.messages[0]


def test_the_seed_range_is_the_services() -> None:
    assert arguments.seed(str(rules.SEED_MIN)) == rules.SEED_MIN
    assert arguments.seed(str(rules.SEED_MAX)) == rules.SEED_MAX
    for outside in (rules.SEED_MIN - 1, rules.SEED_MAX + 1):
        with pytest.raises(argparse.ArgumentTypeError) as refused:
            arguments.seed(str(outside))
        assert str(refused.value) == _service_message(rules.check_seed, outside)


def test_the_size_limits_are_the_services() -> None:
    assert arguments.image_size(f"{MAX_EDGE}x1") == (MAX_EDGE, 1)
    for width, height in ((MAX_EDGE + 1, 1), (1, 0)):
        with pytest.raises(argparse.ArgumentTypeError) as refused:
            arguments.image_size(f"{width}x{height}")
        assert str(refused.value) == _service_message(rules.check_size, width, height)
