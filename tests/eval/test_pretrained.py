"""What a report says about the pre-training data, read from the run's own saved config."""
from __future__ import annotations

from eval.pretrained import data_label, pretraining_data
from train.config import from_dict


def saved(**fields: object) -> dict:
    """A train-vmae config as it is saved beside a run (and inside its checkpoints)."""
    return from_dict({"loop": {"steps": 1}, **fields}).to_dict()


def test_an_images_run_names_its_source_and_motion_recipe() -> None:
    config = saved(images="fractal:categories=4", data={"epoch_samples": 96, "fresh_motion": True, "frames": 8},
                   motion={"transforms": {"zoom": 1.0, "slide": 2.0}, "mixup": False})
    data = pretraining_data(config)
    assert data["source"] == "fractal:categories=4" and data["clips"] == 96 and data["frames"] == 8
    assert data["transforms"] == ["slide", "zoom"] and data["mixup"] is False and data["fresh_motion"] is True
    assert data_label(data) == "PMG fractal:categories=4 (rendered while training, fresh motion; slide+zoom)"


def test_a_config_without_data_has_no_pretraining_data() -> None:
    assert pretraining_data(None) is None
