"""The emulator keeps its own copy of each provider's model table and never imports the
client: these tests check the copies agree, so a wrong entry in either one fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from aigen_app.client.catalog import MODELS, nearest_ratio
from aigen_app.client.openai_catalog import (
    ALL_BACKGROUNDS,
    FLEXIBLE_RULES,
    OPENAI_MODELS,
    RETIRED_MODELS,
    STANDARD_SIZES,
)
from aigen_app.emulator.gemini_models import GEMINI_MODELS, closest_ratio
from aigen_app.emulator.openai_models import IMAGE_MODELS, size_problem

EMULATOR = Path(__file__).resolve().parents[2] / "aigen_app" / "emulator"


def test_the_emulator_never_imports_the_client() -> None:
    for source in EMULATOR.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                assert "client" not in module, f"{source.name} imports {module}"
            elif isinstance(node, ast.Import):
                assert not any("aigen_app.client" in a.name for a in node.names), source.name


def test_the_gemini_tables_agree() -> None:
    assert set(GEMINI_MODELS) == set(MODELS)
    for name, spec in MODELS.items():
        own = GEMINI_MODELS[name]
        assert (own.ratios, own.tiers, own.grounding, own.max_input_images, own.thinking) == (
            spec.ratios, spec.tiers, spec.grounding, spec.max_input_images, spec.thinking), name
        for ratio in spec.ratios:
            for tier in spec.tiers or (None,):
                assert own.native_size(ratio, tier) == spec.native_size(ratio, tier), (
                    name, ratio, tier)
        for width, height in ((1280, 720), (720, 1280), (100, 800), (3000, 1000)):
            assert closest_ratio(own, width, height) == nearest_ratio(spec, width, height)


def test_the_openai_tables_agree() -> None:
    assert set(IMAGE_MODELS) == set(OPENAI_MODELS)
    assert not set(RETIRED_MODELS) & set(IMAGE_MODELS)
    for name, spec in OPENAI_MODELS.items():
        own = IMAGE_MODELS[name]
        assert own.any_size == spec.flexible_sizes, name
        assert own.qualities == frozenset(spec.qualities), name
        assert own.transparent == ("transparent" in spec.backgrounds), name
        assert set(spec.backgrounds) <= set(ALL_BACKGROUNDS), name
        assert own.fidelities == frozenset(spec.input_fidelities), name
        for width, height in STANDARD_SIZES:
            assert size_problem(own, f"{width}x{height}") is None, name
    flexible = IMAGE_MODELS["gpt-image-2"]
    for width in range(16, 4097, 112):
        for height in range(16, 4097, 112):
            assert (size_problem(flexible, f"{width}x{height}") is None) == (
                FLEXIBLE_RULES.allows(width, height)
                or (width, height) in STANDARD_SIZES), (width, height)
