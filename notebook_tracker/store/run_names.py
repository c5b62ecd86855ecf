"""Readable names for runs nobody named: `adjective-noun-NNN`."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crisp", "daring", "eager", "fancy", "gentle",
    "glad", "grand", "happy", "jolly", "keen", "kind", "lively", "lucky", "merry", "nimble",
    "noble", "proud", "quick", "quiet", "rapid", "shy", "silent", "sleek", "smart", "sunny",
    "swift", "tidy", "vivid", "warm", "wise", "zesty",
)
_NOUNS = (
    "otter", "falcon", "badger", "heron", "lynx", "panda", "koala", "gecko", "bison", "crane",
    "dolphin", "ferret", "finch", "fox", "hare", "ibis", "jay", "lemur", "marten", "newt",
    "owl", "puffin", "quail", "raven", "seal", "stork", "tapir", "toad", "vole", "wombat",
    "yak", "zebra",
)


def generate() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(100, 999)}"
