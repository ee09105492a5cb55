"""The bundled emulator in a process of its own, so its CPU is never charged to a client.

``python -m tests.benchmarks.emulator [--grain SIGMA] [--rpm N] [--latency S]`` prints the
API base URL on its first line, like ``manage.py aigen_emulator``, and serves until its
standard input closes, so it never outlives the benchmark that started it.

It is ``aigen_app.emulator.EmulatorServer`` unchanged except for how images are drawn:

- ``--grain SIGMA`` adds Gaussian noise to the red channel, so a 1K PNG weighs about
  1 MB, as a photograph's PNG does, instead of the ~70 KB a flat drawing compresses to;
- each distinct image (caption, size, format) is drawn once and reused, so that drawing
  (50 ms for 1K, 0.6 s for 4K) does not swamp the wall-time figures of the clients.
"""

from __future__ import annotations

import argparse
import functools
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageChops

from aigen_app.emulator.images import encode_image

ROOT = Path(__file__).resolve().parents[2]


def grainy(render: Any, sigma: float) -> Any:
    """``render_image`` with noise added and its results cached."""

    @functools.lru_cache(maxsize=4)
    def render_image(caption: Any, width: int, height: int, mime_type: str) -> bytes:
        data: bytes = render(caption, width, height, mime_type)
        if sigma <= 0:
            return data
        image = Image.open(io.BytesIO(data)).convert("RGB")
        noise = Image.effect_noise((width, height), sigma)
        flat = Image.new("L", (width, height), 128)
        image = ImageChops.add(image, Image.merge("RGB", (noise, flat, flat)), 1.0, -128)
        return encode_image(image, mime_type)

    return render_image


def serve(argv: list[str] | None = None) -> None:
    from aigen_app.emulator import EmulatorServer, images

    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.emulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rpm", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--grain", type=float, default=0.0)
    args = parser.parse_args(argv)
    # Wherever the emulator's modules imported the drawing function, use ours instead.
    original, patched = images.render_image, grainy(images.render_image, args.grain)
    for name, module in list(sys.modules.items()):
        if name.startswith("aigen_app.emulator") and getattr(module, "render_image",
                                                              None) is original:
            module.render_image = patched  # type: ignore[attr-defined]
    server = EmulatorServer("127.0.0.1", args.port, rpm=args.rpm, latency=args.latency)
    server.start()
    print(server.base_url, flush=True)
    try:
        sys.stdin.read()  # EOF: the benchmark closed our stdin or died
    finally:
        server.stop()


class EmulatorProcess:
    """Start ``serve`` in a child process; control it over its HTTP control API."""

    def __init__(self, *, grain: float = 0.0, rpm: int | None = None,
                 latency: float = 0.0) -> None:
        self.args = ["--grain", str(grain), "--latency", str(latency)]
        if rpm is not None:
            self.args += ["--rpm", str(rpm)]
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self._control = httpx.Client(timeout=60, trust_env=False)

    def __enter__(self) -> EmulatorProcess:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.benchmarks.emulator", *self.args],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.__exit__()
            raise RuntimeError("the emulator process did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._control.close()
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1beta")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def configure(self, **config: Any) -> None:
        """``rpm`` (None: no limit), ``latency`` seconds."""
        self._control.post(f"{self.root_url}/_emulator/config", json=config).raise_for_status()

    def reset(self) -> None:
        """Forget the request log and the quota window."""
        self._control.post(f"{self.root_url}/_emulator/reset", json={}).raise_for_status()

    def log(self) -> list[dict[str, Any]]:
        response = self._control.get(f"{self.root_url}/_emulator/log")
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()
        return entries


if __name__ == "__main__":
    serve()
