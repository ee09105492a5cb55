"""The app's Django admin: generations, conversations (with their thread and a refine
form) and media assets, registered on the default admin site.

Everything is read-only: rows change only through the services (the refine form and
the retry / cancel actions call them). Images reach staff through admin-only views, so
the admin needs no public media URLs and listings never open storage.
"""

from .assets import MediaAssetAdmin
from .conversations import ConversationAdmin
from .generations import GenerationAdmin

__all__ = ["ConversationAdmin", "GenerationAdmin", "MediaAssetAdmin"]
