"""Recipes and CLI overrides resolve to one validated config."""
from __future__ import annotations

from pathlib import Path

import pytest

from synth.config import RenderConfig, from_dict, load_yaml, merge
from synth.errors import UserError

RECIPES = sorted((Path(__file__).resolve().parents[2] / "manifests" / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_checked_in_recipes_are_valid_paper_settings(recipe: Path) -> None:
    cfg = from_dict(load_yaml(recipe)).validate()
    assert (cfg.frames, cfg.size, cfg.num_videos) == (16, 224, 100000)
    assert cfg.motion.transforms == {"zoom": 1.0, "affine": 1.0} and cfg.motion.mixup


def test_flags_override_recipe_fields_and_none_means_not_given() -> None:
    data = merge({"images": "fractal", "frames": 16, "motion": {"mixup": True}},
                 {"frames": 8, "size": None, "motion": {"mixup": None, "transforms": {"zoom": 1.0}}})
    cfg = from_dict(data)
    assert cfg.frames == 8 and cfg.size == 224 and cfg.motion.mixup and cfg.motion.transforms == {"zoom": 1.0}


def test_unknown_fields_and_bad_values_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown field"):
        from_dict({"frame": 16})
    with pytest.raises(UserError, match="--frames"):
        RenderConfig(frames=1).validate()
    (tmp_path / "r.yaml").write_text("- a list\n")
    with pytest.raises(UserError, match="mapping"):
        load_yaml(tmp_path / "r.yaml")


def test_config_hash_ignores_nothing_that_changes_bytes() -> None:
    assert RenderConfig().config_hash() != RenderConfig(seed=1).config_hash()
    assert RenderConfig().config_hash() == RenderConfig().config_hash()
