from django.apps import AppConfig


class AigenConfig(AppConfig):
    name = "aigen_app"
    verbose_name = "AI image generation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, conf  # noqa: F401  (registers checks and signal receivers)
        from .services import files

        # Deleting a row that names a file deletes the file after the commit.
        files.connect_receivers()
