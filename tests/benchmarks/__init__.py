"""Benchmarks of our client against the official SDK and raw httpx: ``python -m
tests.benchmarks`` (``--quick`` for a smoke run). See ``run.py``."""
