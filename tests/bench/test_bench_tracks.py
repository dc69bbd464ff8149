"""bench/tracks.py's flicker count on labels as the database gives them back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.tracks import flicker, shown


def test_a_stretch_with_no_smoothed_label_counts_as_one_change_in_and_one_out():
    # a track's smoothed labels as faces_table returns them: no label (NaN) while it had no certain face
    labels = pd.Series(["fear", None, None, None, "fear", "fear"], dtype="str")
    times = np.arange(6.0)  # one face a second: 5 s
    assert list(shown(labels)) == ["fear", "uncertain", "uncertain", "uncertain", "fear", "fear"]
    assert flicker(shown(labels), times) == 2 / 5


def test_steady_labels_do_not_flicker_whatever_their_dtype():
    times = np.arange(4.0)
    for labels in (pd.Series(["happy"] * 4), pd.Series(["happy"] * 4, dtype="str"), pd.Series([None] * 4, dtype="str")):
        assert flicker(shown(labels), times) == 0.0
