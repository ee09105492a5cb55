"""The service layer: the only code that writes the app's rows. Synchronous; views,
admin, commands and tasks call these and stay thin.

- ``create_generation`` / ``refine``: store a pending generation with its user turn and
  its (still empty) model turn, queue the work after commit.
- ``run_generation``: the task body (claim, call the API, record the outcome).
- ``retry_generation`` / ``cancel_generation``.
- ``recover_generations``: settle runs lost to dead workers (``manage.py aigen_recover``).
- ``sweep_orphan_files``: delete files no row refers to (``aigen_recover --sweep-files``).
- ``find_missing_files``: rows naming files storage lost (reported by ``--sweep-files``,
  marked with ``--mark-missing``).
- ``files``: deleting any row that names a file deletes the file after the commit,
  unless another row names it (post_delete receivers connected in ``AigenConfig.ready``).
- ``add_media_asset`` / ``get_or_add_media_asset``: store an uploaded asset (without its
  metadata), deduplicated per owner.
- ``delete_media_asset``: delete an asset (refused while a pending or running
  generation uses it); its file goes after the commit unless a conversation still
  holds it.
- ``delete_generation`` / ``delete_conversation``: delete through the rules (not while
  a generation runs, not from under a refinement); files go after the commit.
- ``erase_user_content``: the erasure recipe, a user's conversations and assets with
  their files, in one transaction.
- ``history_for``: the conversation history a generation is sent with.
- Usage per user and day: ``Generation.objects.usage_by_user_and_day()``.
"""

from .assets import add_media_asset, delete_media_asset, get_or_add_media_asset
from .cleanup import MissingFile, find_missing_files, sweep_orphan_files
from .creation import create_generation, refine
from .erasure import Erasure, delete_conversation, delete_generation, erase_user_content
from .errors import (
    AssetInUse,
    DailyLimitReached,
    IdempotencyKeyReused,
    InputMissing,
    InvalidGenerationState,
    InvalidInput,
    ServiceError,
)
from .lifecycle import Recovery, cancel_generation, recover_generations, retry_generation
from .running import arun_generation, build_request, run_generation
from .turns import history_for

__all__ = [
    "AssetInUse",
    "DailyLimitReached",
    "Erasure",
    "IdempotencyKeyReused",
    "InputMissing",
    "InvalidGenerationState",
    "InvalidInput",
    "MissingFile",
    "Recovery",
    "ServiceError",
    "add_media_asset",
    "arun_generation",
    "build_request",
    "cancel_generation",
    "create_generation",
    "delete_conversation",
    "delete_generation",
    "delete_media_asset",
    "erase_user_content",
    "find_missing_files",
    "get_or_add_media_asset",
    "history_for",
    "recover_generations",
    "refine",
    "retry_generation",
    "run_generation",
    "sweep_orphan_files",
]
