"""Everything about image bytes: what an upload must be (``acceptance``), where a
container's image ends (``containers``), what is removed before storing
(``metadata``), what is measured (``inspection``), the one path from an upload to the
bytes stored (``uploads``), and the one vocabulary of refusals (``refusals``).

Storage (which storage, which file names) is ``aigen_app.storage``'s; the client's own
image work (fitting a reply to the exact size asked for) stays in the Django-free client.
"""

from .acceptance import ACCEPTED, accepted_bytes, check_byte_size, check_declared_type
from .inspection import ImageInfo, inspect_image
from .metadata import without_metadata
from .refusals import CODES, IMAGE_TOO_LARGE, INVALID_IMAGE, refused
from .uploads import ImageInput, prepared_image, read_upload

__all__ = [
    "ACCEPTED",
    "CODES",
    "IMAGE_TOO_LARGE",
    "INVALID_IMAGE",
    "ImageInfo",
    "ImageInput",
    "accepted_bytes",
    "check_byte_size",
    "check_declared_type",
    "inspect_image",
    "prepared_image",
    "read_upload",
    "refused",
    "without_metadata",
]
