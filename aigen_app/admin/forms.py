"""The admin's forms: starting a generation for a user (``services.create_generation``)
and refining a conversation (``services.refine``). Both create through the services,
so quota, idempotency and files follow the same rules as the API."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from .. import services
from ..client import MODELS
from ..client.openai_catalog import ALL_BACKGROUNDS, OUTPUT_FORMATS, QUALITIES_25
from ..models import Generation, MediaAsset
from ..services import rules

# The OpenAI image options a refinement (an edit) may take; which values a model takes
# is checked by the services (moderation applies to first generations only).
EDIT_OPTIONS = {"quality": QUALITIES_25, "output_format": OUTPUT_FORMATS,
                "background": ALL_BACKGROUNDS, "input_fidelity": ("high", "low")}


def _option_field(name: str, values: tuple[str, ...]) -> forms.ChoiceField:
    return forms.ChoiceField(
        required=False, choices=[("", "—"), *((value, value) for value in values)],
        help_text=_("OpenAI models only (%(name)s); empty: the model's default.")
        % {"name": name})


class ServiceForm(forms.Form):
    """A form whose ``save`` calls a service: the service's refusals become form errors.

    Every form gets a one-time ``idempotency_key`` when shown, so submitting it twice
    (a double click, a reload) creates one generation. ``ignore_daily_limit`` exists
    only for superusers."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False,
                                      validators=rules.field_validators("idempotency_key"))

    def __init__(self, *args: Any, allow_override: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        if allow_override:
            self.fields["ignore_daily_limit"] = forms.BooleanField(
                required=False, label=_("Ignore the daily limit"),
                help_text=_("Superusers only: start it even if the owner has used "
                            "AIGEN['USER_DAILY_LIMIT'] today."),
            )

    def create(self) -> Generation:
        raise NotImplementedError

    def save(self) -> Generation | None:
        """The new generation; None (with the errors added to the form) when the
        services refuse it. Call after ``is_valid()``."""
        try:
            return self.create()
        except ValidationError as exc:
            # Beside the input it concerns when the form shows that input, else above.
            field = getattr(exc, "field", None)
            self.add_error(field if field in self.fields else None, exc)
        except services.ServiceError as exc:
            self.add_error(None, exc.message)
        return None


def _model_choices() -> list[tuple[str, Any]]:
    return [("", _("The configured default")), *((name, name) for name in MODELS)]


class StartGenerationForm(ServiceForm):
    owner = forms.CharField(label=_("For user"), help_text=_(
        "The username of the user the generation belongs to (and whose daily limit it "
        "counts toward)."))
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
                             validators=rules.field_validators("prompt"))
    width = forms.IntegerField(initial=1024, validators=rules.field_validators("width"))
    height = forms.IntegerField(initial=1024, validators=rules.field_validators("height"))
    model = forms.ChoiceField(choices=_model_choices, required=False)
    seed = forms.IntegerField(required=False, validators=rules.field_validators("seed"),
                              help_text=_("Empty: a random seed."))
    enable_grounding = forms.BooleanField(required=False)
    reference_image = forms.FileField(required=False, help_text=_("PNG, JPEG, WebP or HEIC/HEIF."))
    media_assets = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"size": 80}),
        help_text=_("Ids of the user's media assets, separated by commas or spaces."),
    )

    def clean_owner(self) -> Any:
        username = self.cleaned_data["owner"].strip()
        user_model = get_user_model()
        user = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise ValidationError(_("No user named %(name)r.") % {"name": username},
                                  code="invalid_owner")
        return user

    def clean_media_assets(self) -> list[MediaAsset]:
        ids = self.cleaned_data["media_assets"].replace(",", " ").split()
        try:
            found = MediaAsset.objects.in_bulk([uuid.UUID(value) for value in ids])
        except ValueError:
            raise ValidationError(_("Media asset ids are UUIDs."),
                                  code="invalid_asset") from None
        missing = [value for value in ids if uuid.UUID(value) not in found]
        if missing:
            raise ValidationError(_("No media asset %(ids)s.") % {"ids": ", ".join(missing)},
                                  code="invalid_asset")
        return [found[uuid.UUID(value)] for value in ids]

    def create(self) -> Generation:
        data = self.cleaned_data
        return services.create_generation(
            data["prompt"], owner=data["owner"], width=data["width"], height=data["height"],
            model=data["model"] or None, seed=data["seed"],
            reference_image=data["reference_image"], media_assets=data["media_assets"],
            enable_grounding=data["enable_grounding"],
            idempotency_key=data["idempotency_key"] or None,
            ignore_daily_limit=data.get("ignore_daily_limit", False),
        )


class RefineForm(ServiceForm):
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        validators=rules.field_validators("prompt"),
        help_text=_("What to change in the latest image."),
    )
    width = forms.IntegerField(required=False, validators=rules.field_validators("width"),
                               help_text=_("Empty: the refined generation's width."))
    height = forms.IntegerField(required=False, validators=rules.field_validators("height"),
                                help_text=_("Empty: the refined generation's height."))
    seed = forms.IntegerField(required=False, validators=rules.field_validators("seed"),
                              help_text=_("Empty: a random seed (Gemini)."))
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
        parent_field.error_messages["invalid_choice"] = _(
            "The generation to refine is no longer in this conversation or has not succeeded."
        )

    def create(self) -> Generation:
        data = self.cleaned_data
        # The key is the owner's namespace: the parent's owner, as refine() defaults it.
        options = {name: data[name] for name in EDIT_OPTIONS if data.get(name)}
        return services.refine(data["parent"], data["prompt"], width=data["width"],
                               height=data["height"], seed=data["seed"], options=options,
                               idempotency_key=data["idempotency_key"] or None,
                               ignore_daily_limit=data.get("ignore_daily_limit", False))
