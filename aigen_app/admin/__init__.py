"""The app's Django admin: generations, conversations (with their thread and a refine
form) and media assets, registered on the default admin site.

Rows are never edited by hand: they change only through the services. Staff with the
model permissions start generations for a user (add), refine, retry and cancel them
(change), delete generations, conversations and assets, and erase a user's content
(delete), each through a service and with an admin log entry. Images reach staff
through admin-only views, so the admin needs no public media URLs and listings never
open storage.
"""

from .assets import MediaAssetAdmin
from .conversations import ConversationAdmin
from .generations import GenerationAdmin

__all__ = ["ConversationAdmin", "GenerationAdmin", "MediaAssetAdmin"]
