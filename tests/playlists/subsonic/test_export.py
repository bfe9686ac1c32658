"""Subsonic export against a stateful fake server on 127.0.0.1 (tests/playlists/subsonic/fake_subsonic.py)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from playlists.errors import ExportError
from playlists.subsonic import (
    SubsonicApi,
    SubsonicMatchConfig,
    SubsonicSettings,
    export_to_subsonic,
    match_track,
    token_auth,
)
from tests.playlists.subsonic.fake_subsonic import FakeSubsonic


@pytest.fixture
def fake(httpserver):
    return FakeSubsonic(httpserver)


def api_for(fake, password="sesame", user="ann"):
    return SubsonicApi(SubsonicSettings(url=fake.url, user=user, password=password))


def table(*rows) -> pd.DataFrame:
    return pd.DataFrame([{"track_id": f"t{i}", "artist": a, "title": t, "duration_s": d}
                         for i, (a, t, d) in enumerate(rows)])


def test_token_is_the_salted_md5_of_the_api_documentation():
    # the worked example of the Subsonic API page: password "sesame", salt "c19b2d"
    assert token_auth("sesame", "c19b2d") == "26719a1196d2a940705a59634eb18eab"


def test_requests_carry_a_fresh_salted_token_and_never_the_password(fake):
    api = api_for(fake)
    api.ping()
    api.ping()
    first, second = fake.calls("ping")
    assert first["s"] != second["s"] and first["t"] == hashlib.md5(("sesame" + first["s"]).encode()).hexdigest()
    assert all("sesame" not in str(params) and "p" not in params for params in fake.calls("ping"))
    assert first["u"] == "ann" and first["f"] == "json" and first["c"] == "ctk" and first["v"] == "1.16.1"


def test_match_reads_later_pages_and_prefers_the_closer_duration(fake):
    for i in range(45):  # 45 other songs match "Night Drive": the right one is on the third page of 20
        fake.add_song(f"Night Drive {i}", f"Band {i}", duration=240)
    live = fake.add_song("Night Drive", "The Harbour", duration=412)
    studio = fake.add_song("Night Drive", "The Harbour", duration=241)
    config = SubsonicMatchConfig(page_size=20, max_pages=3)
    m = match_track(api_for(fake), {"track_id": "x", "artist": "Harbour", "title": "Night Drive (Remastered 2011)",
                                    "duration_s": 240.2}, config)
    assert m.song_id == studio and m.song_id != live and m.score == 1.0
    offsets = [int(c["songOffset"]) for c in fake.calls("search3")]
    assert offsets == [0, 20, 40] and all(c["songCount"] == "20" for c in fake.calls("search3"))


def test_export_creates_updates_and_reports_unmatched(fake):
    a = fake.add_song("Blue Room", "Ada Quartet", duration=181)
    b = fake.add_song("Engine", "Loud Ones", duration=182)
    fake.add_song("Engine Room", "Someone Else", duration=300)
    tracks = table(("Ada Quartet", "Blue Room", 181.0), ("Nobody", "Ghost Song", 100.0), ("Loud Ones", "Engine", 182.4),
                   ("Ada Quartet", "Blue Room", 181.0))
    api = api_for(fake)
    planned = export_to_subsonic(api, tracks, name="Evening", dry_run=True)
    assert planned.action == "create" and planned.song_ids == [a, b] and fake.playlists == {}
    assert [m.track_id for m in planned.unmatched] == ["t1"]
    assert planned.unmatched[0].reason == "no search results for 'Ghost Song' or 'Nobody Ghost Song'"
    assert "matched a song already in the playlist; added once" in planned.notices[0]
    done = export_to_subsonic(api, tracks, name="Evening")
    (pl,) = fake.playlists.values()
    assert done.playlist_id == pl["id"] and [s["id"] for s in pl["entry"]] == [a, b]
    assert pl["name"] == "Evening" and pl["owner"] == "ann" and pl["comment"] == "Made with ctk"
    assert all(method == "POST" for method, name, _ in fake.log if name in ("createPlaylist", "updatePlaylist"))
    again = export_to_subsonic(api, table(("Loud Ones", "Engine", 182.0)), name="Evening", update=True)
    assert again.action == "replace" and len(fake.playlists) == 1 and [s["id"] for s in pl["entry"]] == [b]
    twice = export_to_subsonic(api, table(("Loud Ones", "Engine", 182.0)), name="Evening")
    assert len(fake.playlists) == 2 and "you already have a playlist named 'Evening'" in twice.notices[0]


def test_a_weak_candidate_is_reported_not_added(fake):
    fake.add_song("Engine Room", "Someone Else", duration=300)
    fake.add_song("Blue Room", "Ada Quartet")
    api = api_for(fake)
    result = export_to_subsonic(api, table(("Loud Ones", "Engine", 182.0), ("Ada Quartet", "Blue Room", 200.0)),
                                name="X", dry_run=True)
    (miss,) = result.unmatched
    assert miss.candidate == "Someone Else - Engine Room" and "< threshold 0.80" in miss.reason
    with pytest.raises(ExportError, match="none of the 1 tracks matched a song on the server"):
        export_to_subsonic(api, table(("Loud Ones", "Engine", 182.0)), name="X")


def test_wrong_password_fails_before_any_search(fake):
    fake.add_song("Blue Room", "Ada Quartet")
    with pytest.raises(ExportError, match="refused the login of 'ann': Wrong username or password"):
        export_to_subsonic(api_for(fake, password="nope"), table(("Ada Quartet", "Blue Room", 200.0)), name="X")
    assert fake.calls("search3") == [] and fake.playlists == {}


def test_server_without_token_auth_gets_the_encoded_password(httpserver):
    fake = FakeSubsonic(httpserver, token_auth=False)
    song = fake.add_song("Blue Room", "Ada Quartet")
    result = export_to_subsonic(api_for(fake), table(("Ada Quartet", "Blue Room", 200.0)), name="LDAP")
    assert result.song_ids == [song]
    assert fake.calls("search3")[0]["p"] == "enc:" + b"sesame".hex()


def test_wrong_url_and_unreachable_server_say_so(httpserver):
    httpserver.expect_request("/rest/ping").respond_with_data("<html>not here</html>", content_type="text/html")
    api = SubsonicApi(SubsonicSettings(url=httpserver.url_for("/"), user="a", password="b"))
    with pytest.raises(ExportError, match=r"did not answer ping like a Subsonic server \(is the URL right\?\)"):
        api.ping()
    down = SubsonicApi(SubsonicSettings(url="http://127.0.0.1:1", user="a", password="b", timeout_s=2))
    with pytest.raises(ExportError, match="cannot reach the Subsonic server at http://127.0.0.1:1"):
        down.ping()


def test_settings_come_from_env_over_config_and_name_what_is_missing():
    s = SubsonicSettings.from_env({"CTK_SUBSONIC_PASSWORD": "pw", "CTK_SUBSONIC_USER": "bo"},
                                  config={"url": "http://nas:4533/", "user": "ann"})
    assert (s.url, s.user, s.password) == ("http://nas:4533", "bo", "pw") and "pw" not in repr(s)
    with pytest.raises(ExportError, match="needs CTK_SUBSONIC_URL, CTK_SUBSONIC_PASSWORD"):
        SubsonicSettings.from_env({"CTK_SUBSONIC_USER": "bo"})
    with pytest.raises(ExportError, match="must start with http"):
        SubsonicSettings(url="nas:4533", user="a", password="b")
