"""Flow fields decoded from a video's archive (through an in-memory cache when training)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twostream.inputs.decoded_cache import DecodedCache
from twostream.store.flow_jpeg import decode_codes, dequantize
from twostream.store.zipstore import ArchiveReader, flow_members


def read_fields(reader: ArchiveReader, indices: Sequence[int], backward: bool = False,
                cache: DecodedCache | None = None) -> np.ndarray:
    """Decode flow fields ``indices`` (forward, or backward) -> (len, H, W, 2) float32."""
    def decode(i: int) -> np.ndarray:
        return decode_codes(*(reader.read(m) for m in flow_members(i, backward)))

    if cache is None:
        codes = [decode(i) for i in indices]
    else:
        codes = [cache.get((str(reader.path), "flow", i, backward), lambda i=i: decode(i)) for i in indices]
    return dequantize(np.stack(codes), reader.meta["bound"])
