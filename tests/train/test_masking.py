import pytest
import torch

from train.masking import DECODER_MASKS, make_decoder_mask, make_mask

GRID = (8, 14, 14)  # 16 frames of 224 x 224 in 2 x 16 x 16 cubes
N = 8 * 14 * 14


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_tube_mask_is_the_same_at_every_time_step():
    mask = make_mask("tube", 4, GRID, 0.75, generator=seeded())
    frames = mask.view(4, GRID[0], -1)
    assert torch.equal(frames, frames[:, :1].expand_as(frames))


@pytest.mark.parametrize("ratio", [0.75, 0.9])
def test_masked_count_is_exact(ratio):
    tube = make_mask("tube", 4, GRID, ratio, generator=seeded())
    assert tube.dtype == torch.bool and tube.shape == (4, N)
    assert tube.sum(1).tolist() == [GRID[0] * round(14 * 14 * ratio)] * 4
    assert make_mask("random", 4, GRID, ratio, generator=seeded()).sum(1).tolist() == [round(N * ratio)] * 4


@pytest.mark.parametrize("kind", ["tube", "random"])
def test_masks_differ_per_sample_and_repeat_per_seed(kind):
    mask = make_mask(kind, 4, GRID, 0.75, generator=seeded())
    assert len({tuple(row.tolist()) for row in mask}) == 4
    assert torch.equal(mask, make_mask(kind, 4, GRID, 0.75, generator=seeded()))
    assert not torch.equal(mask, make_mask(kind, 4, GRID, 0.75, generator=seeded(1)))


def test_bad_kind_or_ratio_is_a_clear_error():
    with pytest.raises(ValueError, match="tube, random"):
        make_mask("block", 1, GRID, 0.75)
    with pytest.raises(ValueError, match="ratio"):
        make_mask("tube", 1, GRID, 1.0)
    with pytest.raises(ValueError, match="running_cell, random"):
        make_decoder_mask("cell", make_mask("tube", 1, GRID, 0.75), GRID, 0.5)


@pytest.mark.parametrize("kind", list(DECODER_MASKS))
def test_decoder_mask_is_an_exact_subset_of_the_mask(kind):
    mask = make_mask("tube", 4, GRID, 0.9, generator=seeded())
    decoder_mask = make_decoder_mask(kind, mask, GRID, 0.5, generator=seeded())
    assert not (decoder_mask & ~mask).any()
    n_masked = int(mask[0].sum())
    assert decoder_mask.sum(1).tolist() == [n_masked - round(n_masked * 0.5)] * 4


def test_running_cell_keeps_half_of_every_cell_and_moves_over_time():
    everything = torch.ones(2, N, dtype=torch.bool)
    kept = make_decoder_mask("running_cell", everything, GRID, 0.5, generator=seeded()).view(2, 8, 7, 2, 7, 2)
    per_cell = kept.sum(dim=(3, 5))  # (B, T', 7, 7)
    assert (per_cell == 2).all()
    assert not torch.equal(kept[:, 0], kept[:, 1])


def test_decoder_mask_needs_equal_masked_counts():
    uneven = torch.zeros(2, N, dtype=torch.bool)
    uneven[0, :10], uneven[1, :12] = True, True
    with pytest.raises(ValueError, match="same number"):
        make_decoder_mask("random", uneven, GRID, 0.5)
