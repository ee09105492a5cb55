"""The application keys under which every handler finds the emulator's state."""

from __future__ import annotations

from aiohttp import web

from .reply import Runtime
from .state import Emulator

STATE = web.AppKey("state", Emulator)
RUNTIME = web.AppKey("runtime", Runtime)
