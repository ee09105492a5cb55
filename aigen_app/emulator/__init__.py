"""A loopback server that speaks Gemini's ``generateContent`` protocol and OpenAI's Images
API (``/v1/images/generations``, ``/v1/images/edits``), with faults on demand.

Used by the tests, the demo and the benchmarks so that nothing ever calls the real API::

    with running_emulator() as emu:
        emu.inject("unavailable", times=2)
        client = AIGenerationClient(api_key="test", base_url=emu.base_url)
"""

from .faults import FAULT_KINDS, Fault
from .server import EmulatorServer, running_emulator
from .state import Emulator, LogEntry

__all__ = ["FAULT_KINDS", "Emulator", "EmulatorServer", "Fault", "LogEntry", "running_emulator"]
