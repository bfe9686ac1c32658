import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.models.heads import ProjectionHead, TagHead


def test_projection_head_layers_follow_dims():
    head = ProjectionHead([8, 16, 4])
    linears = [m for m in head.layers if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8, 16), (16, 4)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in head.layers) == 1
    assert head(torch.randn(5, 8)).shape == (5, 4)


def test_single_layer_head_is_linear():
    head = ProjectionHead([8, 4])
    assert len(head.layers) == 1 and isinstance(head.layers[0], torch.nn.Linear)


@pytest.mark.parametrize("dims", [[8], [8, 0], []])
def test_projection_head_refuses_bad_dims(dims):
    with pytest.raises(ConfigError, match="dims="):
        ProjectionHead(dims)


def test_tag_head_outputs_one_logit_per_tag():
    assert TagHead(8, 5)(torch.randn(3, 8)).shape == (3, 5)
    with pytest.raises(ConfigError, match="n_tags=0"):
        TagHead(8, 0)
