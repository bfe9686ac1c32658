from dataclasses import asdict

import pytest

from embeddings.errors import ConfigError
from embeddings.models.config import EncoderConfig


def test_defaults_are_the_small_transformer():
    config = EncoderConfig()
    assert (config.arch, config.positional, config.d_model, config.n_layers, config.n_heads) == (
        "transformer",
        "alibi2d",
        192,
        4,
        4,
    )
    assert config.grid(431) == (8, 26)
    assert config.grid(862) == (8, 53)
    assert config.grid(3) == (8, 1)  # shorter than a patch: padded to one


def test_round_trips_through_a_dict_with_lists():
    config = EncoderConfig(projection_dims=(64, 32), cnn_channels=(16, 16))
    data = asdict(config)
    data["projection_dims"] = list(data["projection_dims"])
    assert EncoderConfig(**data) == config


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arch": "rnn"}, "arch='rnn'"),
        ({"positional": "sinusoid"}, "positional='sinusoid'"),
        ({"d_model": 30, "n_heads": 4}, "d_model=30 must be divisible by n_heads=4"),
        ({"d_model": 24, "n_heads": 4, "positional": "rope2d"}, "divisible by 4"),
        ({"n_layers": 0}, "n_layers=0"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"patch_freq": 256}, "patch_freq=256"),
        ({"projection_dims": ()}, "projection_dims=[]"),
    ],
)
def test_bad_values_name_the_value(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        EncoderConfig(**kwargs)
