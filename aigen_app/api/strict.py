"""Strict input: what a client sends is what it meant, or a 400 naming the field.

The REST framework forgives a lot: ``"model": 0`` becomes the model ``"0"``,
``"enable_grounding": 0`` becomes ``false``, unknown fields are dropped and a bad
``?page_size=`` gives the default page. A frontend developer's typo then starts the
wrong generation instead of failing. Here:

- a JSON body's values must have their field's JSON type (string, integer, boolean,
  array, or null where the field is nullable);
- a field the serializer does not declare is refused, in JSON and form data alike;
- an object field (``ObjectField``) is, in form data, one part holding the object as
  JSON (OpenAPI's default encoding of an object property in multipart/form-data); its
  values must have their JSON type there too (the REST framework would ignore the part
  and use the default);
- in form data, where every value is a string, ``null`` (like an empty value) is null
  for a nullable field, as the OpenAPI schema says; an empty value for a field that
  takes neither null nor blank is refused (not replaced by the default);
- a query parameter the endpoint does not document is refused, and so is an empty one
  unless it is free text (a search).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html

NULL_IN_FORMS = ("", "null")
# Query parameters every endpoint takes: the REST framework's renderer choice.
COMMON_QUERY_PARAMETERS = frozenset({"format"})


class ObjectField(serializers.DictField):
    """A JSON object of ``child`` values. In form data: one part holding the object as
    JSON, which ``StrictInput`` parses (the REST framework's own form reading, keys
    like ``options.quality``, is not what the OpenAPI schema describes)."""

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary):
            return dictionary.get(self.field_name, empty)
        return super().get_value(dictionary)


def json_type(field: serializers.Field[Any, Any, Any, Any]) -> tuple[type, ...] | None:
    """The Python types a JSON value of ``field`` may have (None: any)."""
    if isinstance(field, serializers.DictField):
        return (dict,)
    if isinstance(field, serializers.BooleanField):
        return (bool,)
    if isinstance(field, serializers.IntegerField):
        return (int,)
    if isinstance(field, serializers.CharField | serializers.ChoiceField
                  | serializers.UUIDField):
        return (str,)
    if isinstance(field, serializers.ListField):
        return (list,)
    return None


def type_error(field: serializers.Field[Any, Any, Any, Any], value: Any) -> str | None:
    """Why ``value`` (parsed from JSON) cannot be ``field``'s, or None."""
    if value is None:
        return None if field.allow_null else "This field may not be null."
    expected = json_type(field)
    if expected is None:
        return None
    wrong = not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))
    if wrong:
        return f"Expected {_json_name(expected[0])}, got {_json_name(type(value))}."
    if isinstance(field, serializers.ListField) and field.child is not None:
        for index, item in enumerate(value):
            problem = type_error(field.child, item)
            if problem:
                return f"Item {index}: {problem}"
    if isinstance(field, serializers.DictField) and field.child is not None:
        for key, item in value.items():
            problem = type_error(field.child, item)
            if problem:
                return f"Key {key!r}: {problem}"
    return None


def _json_name(kind: type) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object", type(None): "null"}.get(kind, kind.__name__)


class StrictInput(serializers.Serializer[Any]):
    """An input serializer that refuses unknown fields and wrong JSON types."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)
        writable = {name for name, field in self.fields.items() if not field.read_only}
        errors: dict[str, list[str]] = {
            name: [f"Unknown field. The fields are: {', '.join(sorted(writable))}."]
            for name in data if name not in writable
        }
        if isinstance(data, QueryDict):
            errors.update(self._empty_in_form(data))
            data = self._objects_from_form(data, errors)
            data = self._nulls_from_form(data)
        else:
            for name, value in data.items():
                problem = type_error(self.fields[name], value) if name in writable else None
                if problem:
                    errors[name] = [problem]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def _empty_in_form(self, data: QueryDict) -> dict[str, list[str]]:
        """Empty form values of fields that take neither null nor blank: the REST
        framework would quietly use the default instead."""
        return {name: ["This field may not be empty."] for name, field in self.fields.items()
                if name in data and "" in data.getlist(name) and not field.allow_null
                and not getattr(field, "allow_blank", False)}

    def _objects_from_form(self, data: QueryDict, errors: dict[str, list[str]]) -> QueryDict:
        """The form's object parts parsed from JSON and type-checked; a part that is no
        such object is a field error."""
        names = [name for name, field in self.fields.items()
                 if isinstance(field, ObjectField) and name in data and name not in errors]
        if not names:
            return data
        data = data.copy()
        for name in names:
            raw = data.get(name)  # a file part (an upload) is no JSON text
            try:
                value = json.loads(raw) if isinstance(raw, str) else empty
            except ValueError:
                value = empty
            if value is empty:
                errors[name] = ["Expected a JSON object in this form part."]
                continue
            problem = type_error(self.fields[name], value)
            if problem:
                errors[name] = [problem]
            else:
                data[name] = value
        return data

    def _nulls_from_form(self, data: QueryDict) -> QueryDict:
        nullable = [name for name, field in self.fields.items()
                    if field.allow_null and data.get(name) in NULL_IN_FORMS]
        if not nullable:
            return data
        data = data.copy()
        for name in nullable:
            data[name] = ""  # the REST framework's form null for a nullable field
        return data


def unknown_parameters(given: Iterable[str], known: Iterable[str]) -> dict[str, list[str]]:
    """Field errors for the query parameters in ``given`` that are not ``known``."""
    allowed = set(known) | COMMON_QUERY_PARAMETERS
    return {name: [f"Unknown query parameter. This endpoint takes: "
                   f"{', '.join(sorted(allowed))}."]
            for name in given if name not in allowed}


def empty_parameters(params: Mapping[str, Any], free_text: Iterable[str]
                     ) -> dict[str, list[str]]:
    """Field errors for the parameters in ``params`` given without a value, but the
    ``free_text`` ones (where empty means "any"): an empty date, id, choice, page or
    ordering is no value of its type, so it is refused rather than ignored."""
    allowed = set(free_text)
    getlist = getattr(params, "getlist", None)
    return {name: ["This parameter may not be empty."] for name in params
            if name not in allowed
            and "" in (getlist(name) if getlist is not None else [params[name]])}

