"""Sentences for the text-to-speech generators, composed from word lists by a seeded generator.

Read-speech corpora ship their transcripts under their own terms; composing sentences here
keeps the generated sets free of anyone's text and gives as many distinct sentences as needed.
"""

from __future__ import annotations

import numpy as np

_SUBJECTS = ("the old farmer", "a young teacher", "our neighbour", "the small boy", "my sister", "the driver",
             "a tired nurse", "the council", "every student", "the captain", "her brother", "the manager",
             "a quiet woman", "the reporter", "his uncle", "the new doctor", "the committee", "a stranger")
_VERBS = ("carried", "painted", "opened", "found", "sold", "cleaned", "borrowed", "repaired", "described",
          "counted", "ordered", "watched", "packed", "signed", "burned", "returned", "measured", "lost")
_OBJECTS = ("the wooden box", "a bright red kite", "the heavy door", "six silver coins", "the broken clock",
            "a letter from the bank", "the garden fence", "two loaves of bread", "the blue canoe",
            "an old map of the coast", "the kitchen window", "a pair of leather boots", "the final report",
            "the rusty bicycle", "a basket of apples", "the evening paper", "a jar of honey", "the spare key")
_PLACES = ("near the river", "before dawn", "after the storm", "in the crowded market", "at the station",
           "behind the church", "on the second floor", "during the long winter", "by the harbour",
           "at half past nine", "under the bridge", "in the back room", "on a cold morning",
           "at the end of the road")
_ENDINGS = ("and nobody noticed.", "while the rain kept falling.", "because the shop was closed.",
            "as the bells began to ring.", "but forgot to tell anyone.", "without saying a word.",
            "and then went home.", "just as the lights went out.", "for the third time this week.",
            "although it was far too late.")


def sentences(count: int, seed: int) -> list[str]:
    """``count`` distinct sentences (8-25 words), the same for the same seed."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < count:
        parts = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_PLACES)]
        if rng.random() < 0.6:
            parts.append(rng.choice(_ENDINGS))
        text = " ".join(str(p) for p in parts)
        text = text[0].upper() + text[1:]
        if not text.endswith("."):
            text += "."
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out
