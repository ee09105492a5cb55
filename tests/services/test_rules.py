"""The request rules have one owner (``aigen_app/services/rules.py``): the services, the
REST serializers and the admin's forms enforce the same validators, and a refusal lands
on the input it names, whatever its code."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.core.validators import BaseValidator

from aigen_app.admin.forms import RefineForm, ServiceForm, StartGenerationForm
from aigen_app.api.serializers import GenerationCreateSerializer, RefineSerializer
from aigen_app.client.catalog import MAX_EDGE
from aigen_app.models import Generation
from aigen_app.services import InvalidInput, rules


@pytest.mark.parametrize(("field", "value", "code"), [
    ("prompt", " \n ", "prompt_empty"),
    ("prompt", "x" * (rules.MAX_PROMPT + 1), "prompt_too_long"),
    ("width", 0, "invalid_size"),
    ("height", MAX_EDGE + 1, "invalid_size"),
    ("seed", rules.SEED_MIN - 1, "invalid_seed"),
    ("seed", rules.SEED_MAX + 1, "invalid_seed"),
    ("model", "m" * (rules.MAX_MODEL_NAME + 1), "invalid_model"),
    ("idempotency_key", "k" * (rules.MAX_IDEMPOTENCY_KEY + 1), "invalid_idempotency_key"),
])
def test_a_broken_rule_is_refused_on_its_field_with_its_code(field: str, value: Any,
                                                             code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check(field, value)
    assert (refused.value.field, refused.value.code) == (field, code)


@pytest.mark.parametrize(("field", "value"), [
    ("prompt", "x" * rules.MAX_PROMPT), ("width", 1), ("height", MAX_EDGE),
    ("seed", rules.SEED_MIN), ("seed", rules.SEED_MAX),
    ("idempotency_key", "k" * rules.MAX_IDEMPOTENCY_KEY),
])
def test_the_limits_themselves_are_accepted(field: str, value: Any) -> None:
    assert rules.check(field, value) == value


def _limits(validators: list[Any]) -> list[Any]:
    return [v for v in validators if isinstance(v, BaseValidator)]


def _surfaces() -> list[tuple[str, dict[str, Any]]]:
    api = {name: field.validators for serializer in (GenerationCreateSerializer,
                                                     RefineSerializer)
           for name, field in serializer().fields.items()}
    admin = {name: field.validators
             for form in (StartGenerationForm(), RefineForm(parents=Generation.objects.none()))
             for name, field in form.fields.items()}
    return [("api", api), ("admin", admin)]


@pytest.mark.parametrize(("surface", "fields"), _surfaces())
def test_every_surface_limits_a_field_by_the_rule_alone(surface: str,
                                                        fields: dict[str, Any]) -> None:
    """A limit typed again on a field (``max_length=``, ``min_value=``...) would add a
    validator that is not the rule's: a second owner."""
    free = {"prompt", "width", "height", "seed"}  # typed in on every surface
    checked = [name for name in rules.VALIDATORS if name in fields]
    assert free <= set(checked), surface
    for name in checked:
        own = _limits(list(rules.VALIDATORS[name]))
        # A field whose values are offered (the admin's model choice) may have none.
        assert _limits(fields[name]) == own or (name not in free and not _limits(
            fields[name])), (surface, name)


class _OneField(ServiceForm):
    seed = forms.IntegerField(required=False)

    def __init__(self, refusal: Exception) -> None:
        super().__init__(data={})
        self.refusal = refusal

    def create(self) -> Generation:
        raise self.refusal


@pytest.mark.parametrize(("field", "shown_on"), [("seed", "seed"),
                                                 ("no_such_input", "__all__")])
def test_an_admin_form_shows_any_new_refusal_on_its_field(field: str,
                                                          shown_on: str) -> None:
    form = _OneField(InvalidInput(field, "A refusal no table knows.", code="brand_new"))
    assert form.is_valid()
    assert form.save() is None
    assert form.errors == {shown_on: ["A refusal no table knows."]}
