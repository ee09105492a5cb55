"""The refine form of the conversation page: the next prompt, through ``services.refine``."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .. import services
from ..client.openai_catalog import ALL_BACKGROUNDS, OUTPUT_FORMATS, QUALITIES_25
from ..models import Generation

# Which form field a service's ValidationError code is about; others are shown above
# the form.
FIELD_OF_CODE = {"prompt_empty": "prompt", "invalid_seed": "seed", "seed_unsupported": "seed"}
# The OpenAI image options a refinement (an edit) may take; which values a model takes
# is checked by the services (moderation applies to first generations only).
EDIT_OPTIONS = {"quality": QUALITIES_25, "output_format": OUTPUT_FORMATS,
                "background": ALL_BACKGROUNDS, "input_fidelity": ("high", "low")}


def _option_field(name: str, values: tuple[str, ...]) -> forms.ChoiceField:
    return forms.ChoiceField(
        required=False, choices=[("", "—"), *((value, value) for value in values)],
        help_text=f"OpenAI models only ({name}); empty: the model's default.")


class RefineForm(forms.Form):
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="What to change in the latest image.",
    )
    width = forms.IntegerField(required=False, min_value=1,
                               help_text="Empty: the refined generation's width.")
    height = forms.IntegerField(required=False, min_value=1,
                                help_text="Empty: the refined generation's height.")
    seed = forms.IntegerField(required=False, help_text="Empty: a random seed (Gemini).")
    quality = _option_field("quality", EDIT_OPTIONS["quality"])
    output_format = _option_field("output_format", EDIT_OPTIONS["output_format"])
    background = _option_field("background", EDIT_OPTIONS["background"])
    input_fidelity = _option_field("input_fidelity", EDIT_OPTIONS["input_fidelity"])
    # The generation the page offered to refine, so a refinement that finished in the
    # meantime does not silently change what the new prompt continues from.
    parent = forms.ModelChoiceField(queryset=Generation.objects.none(),
                                    widget=forms.HiddenInput)

    def __init__(self, *args: Any, parents: QuerySet[Generation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent_field = cast("forms.ModelChoiceField[Generation]", self.fields["parent"])
        parent_field.queryset = parents
        parent_field.error_messages["invalid_choice"] = (
            "The generation to refine is no longer in this conversation or has not succeeded."
        )

    def refine(self) -> Generation | None:
        """Create the refinement; None (with the errors added to the form) when the
        services refuse it. Call after ``is_valid()``."""
        data = self.cleaned_data
        try:
            options = {name: data[name] for name in EDIT_OPTIONS if data.get(name)}
            return services.refine(data["parent"], data["prompt"], width=data["width"],
                                   height=data["height"], seed=data["seed"], options=options)
        except ValidationError as exc:
            self.add_error(FIELD_OF_CODE.get(exc.code or ""), exc)
        except services.ServiceError as exc:
            self.add_error(None, exc.message)
        return None
