import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.models import CnnLstmEncoder, ContrastiveModel, build_encoder
from tests.embeddings.tiny import fit_two_views


def test_cnn_lstm_embeds_any_length(tiny):
    torch.manual_seed(0)
    model = build_encoder(tiny(arch="cnn-lstm")).eval()
    assert isinstance(model, CnnLstmEncoder)
    with torch.no_grad():
        short = model(torch.randn(3, 32, 64))
        long = model(torch.randn(3, 32, 128))
        odd = model(torch.randn(1, 32, 7))
    assert short.shape == long.shape == (3, 24) and odd.shape == (1, 24)
    assert torch.isfinite(long).all()


def test_cnn_lstm_is_a_conv1d_stack_over_mel_channels_then_an_lstm(tiny):
    model = build_encoder(tiny(arch="cnn-lstm"))
    convs = [m for m in model.cnn if isinstance(m, torch.nn.Conv1d)]
    assert [c.in_channels for c in convs] == [32, 16]
    assert model.lstm.bidirectional and model.lstm.hidden_size == 12


def test_cnn_lstm_trains(tiny):
    torch.manual_seed(0)
    model = ContrastiveModel(tiny(arch="cnn-lstm"))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = fit_two_views(model, n_mels=32, n_frames=64)
    assert losses[-1] < 0.5 * losses[0], losses  # the two views of each input find each other
    assert [n for n, p in model.named_parameters() if torch.equal(p, before[n])] == []  # every weight moved


def test_refuses_wrong_mels(tiny):
    with pytest.raises(ConfigError, match="n_mels=32"):
        build_encoder(tiny(arch="cnn-lstm"))(torch.zeros(1, 16, 64))
