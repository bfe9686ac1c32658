import pytest

from tests.playlists.spotify.fake_spotify import FakeSpotify


@pytest.fixture
def fake_spotify(httpserver) -> FakeSpotify:
    return FakeSpotify(httpserver)
