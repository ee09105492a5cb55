"""aigen: dependable, persisted AI image generation for Django."""

__version__ = "0.1.0"
