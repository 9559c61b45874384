"""Decoded JPEGs kept in memory for training, where the same few flow fields or frames of each
video are read over and over."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np


class DecodedCache:
    """Decoded images (uint8) up to a byte budget, least recently used out first. Decoding JPEGs
    was half of the temporal loader's time. One per loader process (not shared); keys name the
    archive and the member, so flow fields and frames can share one."""

    def __init__(self, budget_mb: float) -> None:
        self.budget = int(budget_mb * 2**20)
        self.used = 0
        self.entries: OrderedDict[Hashable, np.ndarray] = OrderedDict()

    def get(self, key: Hashable, decode: Callable[[], np.ndarray]) -> np.ndarray:
        """The entry for ``key``, decoded by ``decode`` the first time (and kept if it fits)."""
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
            return found
        decoded = decode()
        if decoded.nbytes <= self.budget:
            self.entries[key] = decoded
            self.used += decoded.nbytes
            while self.used > self.budget:
                self.used -= self.entries.popitem(last=False)[1].nbytes
        return decoded
