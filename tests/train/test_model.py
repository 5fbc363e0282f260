import dataclasses

import pytest
import torch
import torch.nn.functional as F

from train.masking import make_decoder_mask, make_mask
from train.model import IMAGENET_MEAN, IMAGENET_STD, MODEL_SIZES, VideoMAE, create_model

B = 2


@pytest.fixture(scope="module")
def model() -> VideoMAE:
    torch.manual_seed(0)
    return create_model("tiny", img_size=32, frames=4)  # grid (2, 2, 2): 8 tokens


def videos_for(model: VideoMAE, seed: int = 0) -> torch.Tensor:
    cfg = model.cfg
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(B, cfg.in_chans, cfg.frames, cfg.img_size, cfg.img_size, generator=generator)


def mask_for(model: VideoMAE, seed: int = 0) -> torch.Tensor:
    return make_mask("tube", B, model.cfg.grid, 0.75, generator=torch.Generator().manual_seed(seed))


def pixel_mask(model: VideoMAE, token_mask: torch.Tensor) -> torch.Tensor:
    """(B, N) token mask -> (B, 1, T, H, W) mask of the pixels of those cubes."""
    cfg = model.cfg
    t, h, w = cfg.grid
    m = token_mask.view(B, 1, t, h, w)
    for dim, size in ((2, cfg.tubelet), (3, cfg.patch), (4, cfg.patch)):
        m = m.repeat_interleave(size, dim=dim)
    return m


def test_shapes_through_encoder_and_decoder(model):
    cfg = model.cfg
    videos, mask = videos_for(model), mask_for(model)
    n_masked = int(mask[0].sum())
    latent = model.forward_encoder(videos, mask)
    assert latent.shape == (B, cfg.num_patches - n_masked, cfg.embed_dim)
    pred = model.forward_decoder(latent, mask)
    assert pred.shape == (B, n_masked, cfg.patch_dim)
    loss, pred2, target_mask = model(videos, mask)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert torch.equal(target_mask, mask) and torch.allclose(pred, pred2)
    assert model.forward_features(videos).shape == (B, cfg.num_patches, cfg.embed_dim)
    assert model.patchify(videos).shape == (B, cfg.num_patches, cfg.patch_dim)


def test_predictions_never_see_masked_pixels(model):
    videos, mask = videos_for(model), mask_for(model)
    changed = torch.where(pixel_mask(model, mask), videos_for(model, seed=1), videos)
    with torch.no_grad():
        assert torch.equal(model(videos, mask)[1], model(changed, mask)[1])


def test_loss_covers_masked_cubes_only(model):
    videos, mask = videos_for(model), mask_for(model)
    pred = torch.randn(B, int(mask[0].sum()), model.cfg.patch_dim)
    changed_visible = torch.where(pixel_mask(model, ~mask), videos_for(model, seed=1), videos)
    changed_masked = torch.where(pixel_mask(model, mask), videos_for(model, seed=1), videos)
    loss = model.loss(videos, pred, mask)
    assert torch.equal(model.loss(changed_visible, pred, mask), loss)
    assert not torch.allclose(model.loss(changed_masked, pred, mask), loss)


def test_norm_pix_target_is_normalised_per_cube_and_channel(model):
    cfg = model.cfg
    videos, mask = videos_for(model), mask_for(model)
    target = model.target(videos, mask).view(B, -1, cfg.tubelet * cfg.patch**2, cfg.in_chans)
    assert torch.allclose(target.mean(dim=2), torch.zeros(()), atol=1e-5)
    assert torch.allclose(target.std(dim=2), torch.ones(()), atol=1e-4)


def test_target_matches_official_layout(model):
    """The first masked cube, unnormalised and normalised by hand the way official VideoMAE does."""
    cfg = model.cfg
    videos, mask = videos_for(model), mask_for(model)
    token = int(mask[0].nonzero()[0])
    t, h, w = cfg.grid
    ti, yi, xi = token // (h * w), token // w % h, token % w
    cube = videos[0, :, ti * 2 : ti * 2 + 2, yi * 16 : yi * 16 + 16, xi * 16 : xi * 16 + 16]  # (C, 2, 16, 16)
    cube = cube * torch.tensor(IMAGENET_STD).view(3, 1, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
    pixels = cube.permute(1, 2, 3, 0).reshape(-1, 3)  # (t*p*p, C)
    expected = (pixels - pixels.mean(0)) / (pixels.var(0, unbiased=True).sqrt() + 1e-6)
    assert torch.allclose(model.target(videos, mask)[0, 0], expected.flatten(), atol=1e-5)
    raw = dataclasses.replace(cfg, norm_pix=False)
    unnormalised = VideoMAE(raw).target(videos, mask)[0, 0]
    assert torch.allclose(unnormalised, pixels.flatten(), atol=1e-6)


def test_decoder_masking_predicts_and_scores_the_decoder_tokens_only(model):
    videos, mask = videos_for(model), mask_for(model)
    decoder_mask = make_decoder_mask("random", mask, model.cfg.grid, 0.5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        loss, pred, target_mask = model(videos, mask, decoder_mask)
    assert torch.equal(target_mask, decoder_mask)
    assert pred.shape == (B, int(decoder_mask[0].sum()), model.cfg.patch_dim)
    assert torch.allclose(loss, F.mse_loss(pred, model.target(videos, decoder_mask)))
    dropped = mask & ~decoder_mask
    changed = torch.where(pixel_mask(model, dropped), videos_for(model, seed=1), videos)
    with torch.no_grad():
        assert torch.equal(model(changed, mask, decoder_mask)[0], loss)


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    model = create_model("tiny", img_size=32, frames=4, depth=2)
    videos, mask = videos_for(model), mask_for(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        loss = model(videos, mask)[0]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_sizes_are_registered_and_overridable():
    assert set(MODEL_SIZES) == {"tiny", "small", "base", "large"}
    base = MODEL_SIZES["base"]
    assert (base.embed_dim, base.depth, base.heads) == (768, 12, 12)
    assert (base.decoder_dim, base.decoder_depth, base.decoder_heads) == (384, 4, 6)
    model = create_model("tiny", img_size=32, frames=4, drop_path=0.1)
    assert model.cfg.drop_path == 0.1 and model.cfg.grid == (2, 2, 2)
    with pytest.raises(ValueError, match="tiny, small, base, large"):
        create_model("huge")
    with pytest.raises(ValueError, match="multiple of patch"):
        create_model("tiny", img_size=40)


def test_wrong_video_shape_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        model.forward_features(torch.zeros(1, 3, 8, 32, 32))
