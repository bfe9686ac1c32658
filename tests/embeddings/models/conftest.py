import pytest

from tests.embeddings.tiny import TINY_MODEL


@pytest.fixture
def tiny():
    """A tiny encoder config for fast tests; override fields with ``tiny(positional=...)``."""
    return TINY_MODEL
