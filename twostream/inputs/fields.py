"""Flow fields decoded from a video's archive, with an in-memory cache for training, where the
same few fields are read over and over."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from twostream.store.flow_jpeg import decode_codes, dequantize
from twostream.store.zipstore import ArchiveReader, flow_members


class FieldCache:
    """Decoded flow fields (uint8 codes) kept in memory up to a byte budget, least recently used
    out first. Training draws stacks from the same few fields over and over; decoding their
    JPEGs was half of the temporal loader's time. One per loader process (not shared)."""

    def __init__(self, budget_mb: float) -> None:
        self.budget = int(budget_mb * 2**20)
        self.used = 0
        self.fields: OrderedDict[tuple[str, int, bool], np.ndarray] = OrderedDict()

    def codes(self, reader: ArchiveReader, index: int, backward: bool) -> np.ndarray:
        key = (str(reader.path), index, backward)
        found = self.fields.get(key)
        if found is not None:
            self.fields.move_to_end(key)
            return found
        codes = decode_codes(*(reader.read(m) for m in flow_members(index, backward)))
        if codes.nbytes <= self.budget:
            self.fields[key] = codes
            self.used += codes.nbytes
            while self.used > self.budget:
                self.used -= self.fields.popitem(last=False)[1].nbytes
        return codes


def read_fields(reader: ArchiveReader, indices: Sequence[int], backward: bool = False,
                cache: FieldCache | None = None) -> np.ndarray:
    """Decode flow fields ``indices`` (forward, or backward) -> (len, H, W, 2) float32."""
    if cache is None:
        codes = [decode_codes(*(reader.read(m) for m in flow_members(i, backward))) for i in indices]
    else:
        codes = [cache.codes(reader, i, backward) for i in indices]
    return dequantize(np.stack(codes), reader.meta["bound"])
