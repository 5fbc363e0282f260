import pytest
import torch
import transformers

from train.convert import from_official, from_transformers, to_official, to_transformers, transformers_config
from train.masking import make_mask
from train.model import VideoMAE, create_model

B = 2


def tiny() -> VideoMAE:
    return create_model("tiny", img_size=32, frames=4, depth=2)


def inputs(model: VideoMAE) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = model.cfg
    generator = torch.Generator().manual_seed(0)
    videos = torch.randn(B, 3, cfg.frames, cfg.img_size, cfg.img_size, generator=generator)
    return videos, make_mask("tube", B, cfg.grid, 0.75, generator=generator)


def hf_pretraining(model: VideoMAE) -> transformers.VideoMAEForPreTraining:
    torch.manual_seed(1)
    hf = transformers.VideoMAEForPreTraining(transformers.VideoMAEConfig(**transformers_config(model.cfg)))
    hf.decoder.norm.eps = 1e-6  # transformers hard-codes 1e-5 for this one norm; the official model uses 1e-6
    return hf.eval()


@torch.no_grad()
def test_transformers_weights_give_the_same_loss_and_predictions():
    ours = tiny()
    hf = hf_pretraining(ours)
    ours.load_state_dict(from_transformers(hf.state_dict()), strict=True)
    videos, mask = inputs(ours)
    loss, pred, _ = ours(videos, mask)
    expected = hf(videos.transpose(1, 2), bool_masked_pos=mask)  # transformers wants (B, T, C, H, W)
    assert torch.allclose(pred, expected.logits, atol=1e-5)
    assert torch.allclose(loss, expected.loss, atol=1e-5)


def test_transformers_round_trip_and_legacy_bias_names():
    hf_state = hf_pretraining(tiny()).state_dict()
    ours = from_transformers(hf_state)
    back = to_transformers(ours)
    assert back.keys() == hf_state.keys() and all(torch.equal(back[k], hf_state[k]) for k in back)
    legacy = {k.replace("query.bias", "q_bias").replace("value.bias", "v_bias"): v for k, v in hf_state.items()}
    assert all(torch.equal(from_transformers(legacy)[k], v) for k, v in ours.items())


@torch.no_grad()
def test_encoder_exports_to_transformers_videomae_model():
    ours = tiny()
    kwargs = transformers_config(ours.cfg)
    hf = transformers.VideoMAEModel(transformers.VideoMAEConfig(**kwargs)).eval()
    hf.load_state_dict(to_transformers(ours.state_dict(), encoder_only=True), strict=True)
    videos, _ = inputs(ours)
    assert torch.allclose(hf(videos.transpose(1, 2)).last_hidden_state, ours.forward_features(videos), atol=1e-5)
    encoder_state = from_transformers(hf.state_dict())
    assert all(torch.equal(encoder_state[k], v) for k, v in ours.state_dict().items() if k.startswith("encoder."))


@torch.no_grad()
def test_official_layout_round_trip_gives_identical_outputs():
    ours = tiny()
    state = ours.state_dict()
    official = to_official(state)
    assert official.keys() == state.keys()
    assert "encoder.blocks.0.attn.q_bias" in official and "encoder.blocks.0.attn.k_bias" not in official
    loaded = tiny()
    loaded.load_state_dict(from_official({"model": official, "epoch": 799}), strict=True)
    videos, mask = inputs(ours)
    assert torch.equal(loaded(videos, mask)[1], ours(videos, mask)[1])


def test_incomplete_or_foreign_dicts_are_clear_errors():
    state = tiny().state_dict()
    without = {k: v for k, v in state.items() if k != "decoder.blocks.1.mlp.fc2.bias"}
    with pytest.raises(ValueError, match=r"missing keys \(1\): decoder\.blocks\.1\.mlp\.fc2\.bias"):
        from_official(without)
    with pytest.raises(ValueError, match=r"unexpected keys \(1\): encoder\.pos_embed"):
        to_official(state | {"encoder.pos_embed": torch.zeros(1)})
    hf_state = to_transformers(state)
    del hf_state["videomae.encoder.layer.0.attention.attention.key.weight"]
    with pytest.raises(ValueError, match="needs transformers' key.weight"):
        from_transformers(hf_state)
    with pytest.raises(ValueError, match="unexpected keys.*classifier.weight"):
        from_transformers(to_transformers(state) | {"classifier.weight": torch.zeros(1)})
