"""The training loader's cache of decoded JPEGs: the same values as decoding, within its budget,
each flow field or frame decoded once."""

import numpy as np

from twostream.inputs.decoded_cache import DecodedCache
from twostream.inputs.fields import read_fields
from twostream.inputs.rgb_diff import read_differences
from twostream.store.zipstore import ArchiveReader, archive_name


def test_field_cache_returns_the_decoded_fields_within_its_budget(tiny_archives):
    table, _, flow = tiny_archives
    reader = ArchiveReader(flow / archive_name(table["id"][0]))
    cache = DecodedCache(budget_mb=0.02)  # room for a few 48x64 fields only
    first = read_fields(reader, [0, 1, 2], cache=cache)
    again = read_fields(reader, [0, 1, 2], cache=cache)
    assert np.array_equal(first, read_fields(reader, [0, 1, 2])) and np.array_equal(first, again)
    backward = read_fields(reader, [0, 1, 2], backward=True, cache=cache)
    assert np.array_equal(backward, read_fields(reader, [0, 1, 2], backward=True))  # its own entries
    read_fields(reader, range(reader.meta["n_fields"]), cache=cache)
    assert 0 < cache.used <= cache.budget


def test_rgb_differences_decode_each_frame_once_through_the_cache(tiny_archives, monkeypatch):
    table, frames, _ = tiny_archives
    reader = ArchiveReader(frames / archive_name(table["id"][0]))
    plain = read_differences(reader, [0, 1, 2])
    decoded = []
    image = reader.image
    monkeypatch.setattr(reader, "image", lambda name: decoded.append(name) or image(name))
    cache = DecodedCache(budget_mb=1)
    assert np.array_equal(read_differences(reader, [0, 1, 2], cache), plain)
    assert np.array_equal(read_differences(reader, [1, 2], cache), plain[1:])
    assert len(decoded) == 4 == len(set(decoded))  # frames 0-3, each once
