import pytest
import torch
import torch.nn.functional as F

from embeddings.errors import ConfigError
from embeddings.models import ContrastiveModel, build_encoder
from embeddings.models.config import POSITIONALS
from embeddings.models.transformer import SpectrogramTransformer, normalise_input, standardize
from tests.embeddings.tiny import fit_two_views


def _mels(batch, frames, seed=0):
    return torch.randn(batch, 32, frames, generator=torch.Generator().manual_seed(seed)) * 10 - 30


def test_standardize_gives_zero_mean_unit_variance():
    x = standardize(_mels(3, 50))
    assert torch.allclose(x.mean(dim=(1, 2)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(x.std(dim=(1, 2), unbiased=False), torch.ones(3), atol=1e-4)


@pytest.mark.parametrize("positional", POSITIONALS)
def test_every_variant_embeds_training_length_and_twice_as_long(tiny, positional):
    torch.manual_seed(0)
    model = build_encoder(tiny(positional=positional)).eval()
    with torch.no_grad():
        short = model(_mels(3, 64))
        long = model(_mels(3, 128))
    assert short.shape == long.shape == (3, 24)
    assert torch.isfinite(long).all()


@pytest.mark.parametrize("positional", ["alibi1d", "alibi2d", "rope1d", "rope2d"])
def test_relative_variants_are_translation_consistent(tiny, positional):
    """ALiBi and RoPE only see position differences: numbering the patches from another start changes
    nothing, which is why a window of a longer input gets the same tokens as the fragment alone."""
    torch.manual_seed(0)
    model = build_encoder(tiny(positional=positional)).eval()
    x = _mels(2, 128)
    with torch.no_grad():
        assert torch.allclose(model.forward_tokens(x), model.forward_tokens(x, time_offset=53), atol=1e-5)


def test_learned_positions_are_absolute(tiny):
    torch.manual_seed(0)
    model = build_encoder(tiny(positional="learned")).eval()
    with torch.no_grad():
        a = model.forward_tokens(_mels(1, 64))
        shifted = model.forward_tokens(torch.roll(_mels(1, 64), shifts=8, dims=-1))
    # a token with the same content at another position differs only by its position embedding
    assert not torch.allclose(a[:, 1:8], shifted[:, 2:9], atol=1e-4)


@pytest.mark.parametrize("positional", POSITIONALS)
def test_a_repeated_fragment_embeds_close_to_the_fragment(tiny, positional):
    """Sensible extrapolation: the fragment played twice (2x the training length) lands nearer to the
    fragment than other fragments do."""
    torch.manual_seed(0)
    model = build_encoder(tiny(positional=positional)).eval()
    x, others = _mels(1, 64, seed=1), _mels(8, 64, seed=2)
    with torch.no_grad():
        e, e2, eo = model(x), model(torch.cat([x, x], dim=-1)), model(others)
    twice = F.cosine_similarity(e, e2).item()
    assert twice > 0.9
    assert twice > F.cosine_similarity(e.expand_as(eo), eo).max().item()


def test_inputs_shorter_than_a_patch_are_padded(tiny):
    model = build_encoder(tiny()).eval()
    with torch.no_grad():
        assert model(_mels(2, 5)).shape == (2, 24)


def test_embedding_is_blind_to_overall_level(tiny):
    model = build_encoder(tiny()).eval()
    x = _mels(2, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), model(x + 12.0), atol=1e-4)


@pytest.mark.parametrize("arch", ["transformer", "cnn-lstm"])
def test_fixed_input_norm_keeps_level_visible_and_maps_db_by_its_constants(tiny, arch):
    config = tiny(arch=arch, input_norm="fixed", input_mean_db=-30.0, input_std_db=10.0)
    model = build_encoder(config).eval()
    x = _mels(2, 64)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x + 12.0), atol=1e-3)
    assert torch.allclose(normalise_input(x, config), (x + 30.0) / 10.0)
    assert torch.allclose(normalise_input(x, tiny()), standardize(x))
    with pytest.raises(ConfigError, match="input_norm='loud'"):
        tiny(input_norm="loud")


def test_wrong_number_of_mels_is_refused(tiny):
    model = build_encoder(tiny())
    with pytest.raises(ConfigError, match="n_mels=32"):
        model(torch.zeros(2, 40, 64))


def test_contrastive_model_returns_embeddings_and_projections(tiny):
    model = ContrastiveModel(tiny()).eval()
    assert isinstance(model.encoder, SpectrogramTransformer)
    with torch.no_grad():
        emb, proj = model(_mels(4, 64))
    assert emb.shape == (4, 24) and proj.shape == (4, 16)
    with torch.no_grad():
        assert torch.allclose(emb, model.encoder(_mels(4, 64)))


def test_gradients_reach_every_parameter(tiny):
    for positional in POSITIONALS:
        model = ContrastiveModel(tiny(positional=positional))
        _, proj = model(_mels(4, 64))
        proj.square().sum().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
        assert missing == [], positional
        assert [n for n, p in model.named_parameters() if not p.grad.abs().sum() > 0] == [], positional


def test_transformer_trains(tiny):
    torch.manual_seed(0)
    losses = fit_two_views(ContrastiveModel(tiny()), n_mels=32, n_frames=64)
    assert losses[-1] < 0.5 * losses[0], losses
