"""The reproducibility manifest of a prediction: everything that decided its image.

A replay (POST /predictions/{id}/replay) runs a new prediction from it: the same prompt,
negative prompt, seed, size, LoRAs and scene inputs, each step on the model and provider
that actually served it (no fallback), and the same input images, checked by their sha256.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from app.models.generation import Generation
from app.pipeline.steps import StepsOutcome

MANIFEST_VERSION = 1
DISTRIBUTION = "sartiq-open-backend"
SCENE_KEYS = ("background", "tone", "framing", "view_angle", "lighting", "pose", "product_family")


@cache
def software_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pass
    # The project is not installed as a package (uv `package = false`): read its pyproject.
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        with pyproject.open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _base(generation: Generation, seed: int) -> dict[str, Any]:
    inputs = generation.inputs
    return {
        "manifest_version": MANIFEST_VERSION,
        "software": {"name": DISTRIBUTION, "version": software_version()},
        "generation_id": str(generation.id),
        "generation_type": str(generation.generation_type),
        "generation_strategy": str(generation.generation_strategy),
        "tool": str(generation.tool),
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt,
        "original_prompt": generation.original_prompt,
        "prompt_source": generation.prompt_source,
        "prompt_trace": generation.prompt_trace or [],
        "loras": list(inputs.get("loras") or []),
        "seed": seed,
        "width": generation.width,
        "height": generation.height,
        "steps": generation.steps,
        "scale_factor": generation.scale_factor,
        "target_width": generation.target_width,
        "target_height": generation.target_height,
        "reference_image_strength": inputs.get("reference_image_strength"),
        "scene": {key: inputs.get(key) for key in SCENE_KEYS if inputs.get(key) is not None},
        "model": None,
        "provider": None,
        "fallback_used": False,
        "fallback_reason": None,
        "pipeline": [],
        "input_images": [],
        "result_sha256": None,
        "agentic": None,
    }


def success_manifest(
    generation: Generation, outcome: StepsOutcome, result_sha256: str
) -> dict[str, Any]:
    manifest = _base(generation, outcome.seed if outcome.seed is not None else 0)
    main = outcome.steps[0] if outcome.steps else {}
    manifest |= {
        "prompt": outcome.prompt,
        "negative_prompt": outcome.negative_prompt,
        "model": {"id": main.get("model_id"), "name": main.get("model_name")},
        "provider": outcome.provider,
        "fallback_used": outcome.fallback_used,
        "fallback_reason": outcome.fallback_reason,
        "pipeline": outcome.steps,
        "input_images": outcome.input_images,
        "result_sha256": result_sha256,
    }
    if outcome.evaluation is not None:
        manifest["agentic"] = {
            "kept_attempt": outcome.evaluation.get("best_attempt"),
            "attempts": len(outcome.evaluation.get("attempts") or []),
            "score": outcome.evaluation.get("score"),
            "prompt_before_adjustment": generation.prompt,
        }
    return manifest


def failure_manifest(generation: Generation, seed: int) -> dict[str, Any]:
    """What was asked, when nothing was produced (the plan as planned, no result)."""
    manifest = _base(generation, seed)
    manifest["pipeline"] = [
        {
            "name": step.get("name"),
            "task": step.get("task"),
            "model_id": step.get("model_id"),
            "model_name": step.get("model_name"),
            "provider": step.get("provider"),
            "role": None,
            "config": step.get("config"),
            "limits": step.get("limits"),
            "fallback_reason": None,
            "report": None,
        }
        for step in generation.plan
    ]
    main = generation.plan[0] if generation.plan else {}
    manifest["model"] = {"id": main.get("model_id"), "name": main.get("model_name")}
    return manifest
