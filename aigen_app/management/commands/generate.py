"""``manage.py generate``: one generation (or refinement) from the shell, through the
same services as every other surface, so the row is recorded like any other."""

from __future__ import annotations

import json
import sys
import time
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from contextlib import ExitStack
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from ... import client_factory, services
from ...client import ProviderConfig, provider_of
from ...client.openai_catalog import OPTION_NAMES
from ...client_factory import has_api_key
from ...models import Generation, GenerationStatus
from ...storage import written_files
from .. import arguments
from ..interrupts import Interrupted, interruptible
from ..progress import Progress
from ..results import EXIT_BAD_ARGUMENTS, EXIT_CODES_HELP, exit_code_for, save_output, summary


class Command(BaseCommand):
    help = "Generate an image (or refine an earlier generation) and save it to a file."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.epilog = EXIT_CODES_HELP

        def one_line_error(message: str) -> NoReturn:
            if parser.called_from_command_line:
                sys.stderr.write(f"{parser.prog}: error: {message}\n")
                sys.exit(EXIT_BAD_ARGUMENTS)
            raise CommandError(message, returncode=EXIT_BAD_ARGUMENTS)

        # One readable line (not argparse's usage block) for every bad argument.
        parser.error = one_line_error  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("prompt")
        parser.add_argument("--size", type=arguments.image_size, metavar="WxH",
                            help="exact output size, e.g. 1280x720 (default 1024x1024; "
                                 "a refinement keeps its parent's size)")
        parser.add_argument("--model", help="model id, Gemini or OpenAI (docs/providers.md; "
                                             "default: AIGEN['MODEL'] / AI_MODEL)")
        parser.add_argument("--seed", type=arguments.seed)
        parser.add_argument("--reference", type=arguments.image_file, metavar="PATH",
                            help="reference image whose layout is kept")
        parser.add_argument("--asset", type=arguments.asset, action="append", default=[],
                            metavar="PATH[:TYPE[:NAME]]",
                            help="labelled media asset (logo, face, character, product, "
                                 "style, other); repeatable")
        for option in OPTION_NAMES:
            parser.add_argument(f"--{option.replace('_', '-')}", dest=f"option_{option}",
                                metavar="VALUE",
                                help=f"OpenAI image option {option} (docs/providers.md)")
        parser.add_argument("--grounding", action="store_true",
                            help="ground the image in Google Search results")
        parser.add_argument("--refine", type=arguments.generation_id, metavar="GENERATION_ID",
                            help="continue the conversation of this earlier generation")
        parser.add_argument("--user", metavar="USERNAME", help="owner of the generation")
        parser.add_argument("--output", metavar="PATH",
                            help="where to write the image (default: <id>.<ext> here)")
        parser.add_argument("--json", action="store_true",
                            help="print one JSON object instead of the id and path")
        parser.add_argument("--emulator", action="store_true",
                            help="use the bundled emulator (the default when no API key is set)")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = self._owner(options["user"])
        parent = self._parent(options["refine"])
        self.started: Generation | None = None
        try:
            with interruptible():
                generation = self._generate(options, owner, parent)
        except Interrupted as exc:
            # The signal may have come mid-statement: the frames its traceback keeps
            # hold a SQLite cursor whose read still locks the database, against the
            # cancel below (closing the connection waits for its statements). Let go.
            exc.__traceback__ = None
            raise self._interrupted(exc) from None
        self._report(generation, options)

    def _generate(self, options: dict[str, Any], owner: Any, parent: Generation | None
                  ) -> Generation:
        with ExitStack() as stack:
            # Everything is recorded (and refused) before anything is printed: a refused
            # request leaves one line, no row and, its transaction rolled back, no file.
            # The generation is queued when the transaction commits (and, with the
            # immediate task backend, runs then), so the emulator and the progress
            # output start inside it.
            with written_files(), transaction.atomic():
                generation = self.started = self._start(options, owner, parent)
                providers = None
                if options["emulator"] or not has_api_key(generation.model):
                    providers = self._emulator(stack, generation.model,
                                               explicit=options["emulator"])
                progress = stack.enter_context(Progress(self.stderr))
                # The command's options go to the client it runs with, explicitly:
                # settings.AIGEN stays as the project wrote it.
                stack.enter_context(client_factory.serving(client_factory.build_client(
                    providers=providers, on_retry=progress.retried)))
                progress.note("refining " + str(parent.id) if parent else "generating")
            # This process works on its own generation: a no-op when the task backend
            # already ran it (immediate) or a worker claimed it first. Interrupted, it
            # stays running for _interrupted to cancel (not queued again).
            services.run_generation(str(generation.id), hand_back=False)
            return _wait_until_finished(generation)

    def _interrupted(self, exc: Interrupted) -> CommandError:
        """End this process's generation as canceled (a result arriving later is
        discarded) and say so in one line; the exit code is 128 + the signal number."""
        connection.close()  # settle on a fresh connection: the old one stopped mid-statement
        started = self.started
        if started is None or not Generation.objects.filter(pk=started.pk).exists():
            return CommandError(f"interrupted ({exc}): nothing was recorded",
                                returncode=exc.exit_code)
        try:
            generation = services.cancel_generation(started)
        except services.InvalidGenerationState:  # it finished as the signal came
            generation = Generation.objects.get(pk=started.pk)
        return CommandError(f"interrupted ({exc}): generation {generation.id} "
                            f"{generation.status}", returncode=exc.exit_code)

    def _owner(self, username: str | None) -> Any:
        if username is None:
            return None
        user_model = get_user_model()
        try:
            return user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise CommandError(f"no such user: {username}", returncode=EXIT_BAD_ARGUMENTS
                               ) from None

    def _parent(self, generation_id: Any) -> Generation | None:
        if generation_id is None:
            return None
        try:
            return Generation.objects.get(pk=generation_id)
        except Generation.DoesNotExist:
            raise CommandError(f"no generation with id {generation_id}",
                               returncode=EXIT_BAD_ARGUMENTS) from None

    def _emulator(self, stack: ExitStack, model: str, *, explicit: bool
                  ) -> dict[str, ProviderConfig]:
        """Start the bundled emulator (until ``stack`` closes); the providers' keys and
        base URLs that point at it."""
        from ...emulator import running_emulator

        emu = stack.enter_context(running_emulator())
        openai = provider_of(model) == "openai"
        reason = ("--emulator given" if explicit else
                  "no OpenAI API key set (OPENAI_API_KEY)" if openai else
                  "no API key set (AI_API_KEY)")
        url = emu.openai_base_url if openai else emu.base_url
        self.stderr.write(f"{reason}: using the bundled emulator at {url}")
        # Both providers point at it: one process, one emulator, whatever the model.
        return {"gemini": ProviderConfig("emulator-key", emu.base_url),
                "openai": ProviderConfig("emulator-key", emu.openai_base_url)}

    def _start(self, options: dict[str, Any], owner: Any, parent: Generation | None
               ) -> Generation:
        """Store the assets and the generation, in the caller's transaction (assets
        included: a refused generation takes them back)."""
        size = options["size"]
        common: dict[str, Any] = {
            "owner": owner, "model": options["model"], "seed": options["seed"],
            "options": {name: options[f"option_{name}"] for name in OPTION_NAMES
                        if options[f"option_{name}"] is not None},
            "reference_image": options["reference"].data if options["reference"] else None,
        }
        try:
            common["media_assets"] = [
                services.add_media_asset(a.image.data, owner=owner, asset_type=a.asset_type,
                                         display_name=a.display_name or a.image.path.stem)
                for a in options["asset"]
            ]
            if parent is not None:
                return services.refine(
                    parent, options["prompt"], width=size[0] if size else None,
                    height=size[1] if size else None,
                    enable_grounding=True if options["grounding"] else None, **common)
            width, height = size or (1024, 1024)
            return services.create_generation(
                options["prompt"], width=width, height=height,
                enable_grounding=options["grounding"], **common)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages), returncode=EXIT_BAD_ARGUMENTS) from None
        except services.ServiceError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_ARGUMENTS) from None

    def _report(self, generation: Generation, options: dict[str, Any]) -> None:
        path = None
        if generation.status == GenerationStatus.SUCCEEDED:
            path = save_output(generation, options["output"])
        if options["json"]:
            self.stdout.write(json.dumps(summary(generation, path)))
        elif path is not None:
            self.stdout.write(f"{generation.id} {path}")
        code = exit_code_for(generation)
        if code:
            reason = generation.block_reason or generation.error_message or generation.status
            raise CommandError(f"generation {generation.id} {generation.status}: {reason}",
                               returncode=code)


def _wait_until_finished(generation: Generation, poll: float = 0.5) -> Generation:
    """Poll the row (a worker may be running it) until it is terminal, or deferred for
    a rate limit (pending with ``run_after``: the caller reports it as rate limited)."""
    generation.refresh_from_db()
    while generation.status in (GenerationStatus.PENDING, GenerationStatus.RUNNING):
        if generation.status == GenerationStatus.PENDING and generation.run_after:
            break
        time.sleep(poll)
        generation.refresh_from_db()
    return generation
