import inspect
import math
from pathlib import Path

import numpy as np

from cluster_toolkit.cli._common import fmt_number
from cluster_toolkit.cli._playlist_common import PlaylistOptions, playlist_options


def test_fmt_number_formats_floats_and_shows_missing_values_as_a_dash():
    assert fmt_number(0.123456) == "0.1235"
    assert fmt_number(np.float32(0.5), ".3f") == "0.500"
    assert fmt_number(12345.678) == "1.235e+04"
    assert [fmt_number(v) for v in (None, math.nan, np.float64("nan"))] == ["-", "-", "-"]
    assert [fmt_number(v, ".3f") for v in (7, np.int64(3), True, "ward")] == ["7", "3", "True", "ward"]


def test_playlist_options_adds_the_shared_options_after_the_commands_own():
    seen = []

    @playlist_options
    def command(song: str, n: int = 10, *, opts: PlaylistOptions) -> None:
        seen.append((song, n, opts))

    params = inspect.signature(command).parameters
    assert list(params) == ["song", "n", "artist_window", "allow_near_duplicates", "absolute", "dry_run",
                            "json_out", "library"]
    assert params["library"].default == Path(".ctk") and params["artist_window"].default == 0
    command(song="a - b", n=3, artist_window=2, allow_near_duplicates=False, absolute=True, dry_run=True,
            json_out=False, library=Path("lib"))
    assert seen == [("a - b", 3, PlaylistOptions(2, False, True, True, False, Path("lib")))]
