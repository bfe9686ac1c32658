"""How well a track of another catalogue (Spotify, Subsonic, MPD) fits a local track.

One score for every exporter: ``0.55 * title similarity + 0.45 * best artist similarity`` on
normalised text (case, accents, punctuation, remaster tags and featured artists removed, see
:mod:`playlists.rules`), minus a penalty when both durations are known and differ by more than
a tolerance. Similarity is the mean of difflib's character ratio and a word F1, so that "Tune 0"
and "Tune 1" stay apart while "Colour"/"Color" still match.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from playlists.rules import normalise_artist, normalise_title

DURATION_TOLERANCE_S = 15.0
DURATION_PENALTY = 0.15


def _token_f1(a: list[str], b: list[str]) -> float:
    """F1 of matched words; words of 4+ letters match when ``difflib`` ratio >= 0.85, shorter ones exactly."""
    unused = list(b)
    hits = 0
    for word in a:
        for j, other in enumerate(unused):
            if word == other or (min(len(word), len(other)) >= 4
                                 and SequenceMatcher(None, word, other).ratio() >= 0.85):
                hits += 1
                del unused[j]
                break
    return 2.0 * hits / (len(a) + len(b))


def text_similarity(a: str, b: str) -> float:
    """Mean of the character ratio and the word F1 of two normalised strings, 0..1."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return 0.5 * SequenceMatcher(None, a, b).ratio() + 0.5 * _token_f1(a.split(), b.split())


def candidate_score(
    artist: str,
    title: str,
    duration_s: float | None,
    *,
    candidate_artists: Sequence[str],
    candidate_title: str,
    candidate_duration_s: float | None,
    duration_tolerance_s: float = DURATION_TOLERANCE_S,
) -> float:
    """Score 0..1 of a candidate track for the local track ``artist`` - ``title`` (``duration_s``).

    Args:
        artist, title, duration_s: the local track's tags (duration None when unknown).
        candidate_artists: the candidate's artist names (the best one counts, and so does their join).
        candidate_title: the candidate's title.
        candidate_duration_s: the candidate's length in seconds (None when unknown).
        duration_tolerance_s: durations further apart than this cost ``DURATION_PENALTY``.
    """
    title_sim = text_similarity(normalise_title(title), normalise_title(candidate_title))
    names = [normalise_artist(a) for a in candidate_artists if a]
    wanted = normalise_artist(artist)
    artist_sim = max([text_similarity(wanted, n) for n in names] + [text_similarity(wanted, ", ".join(names)), 0.0])
    score = 0.55 * title_sim + 0.45 * artist_sim
    if duration_s is not None and candidate_duration_s and abs(float(duration_s) - candidate_duration_s) > \
            duration_tolerance_s:
        score -= DURATION_PENALTY
    return max(score, 0.0)
