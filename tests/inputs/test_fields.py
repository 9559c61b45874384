import numpy as np

from twostream.inputs.fields import FieldCache, read_fields
from twostream.store.zipstore import ArchiveReader, archive_name


def test_field_cache_returns_the_decoded_fields_within_its_budget(tiny_archives):
    table, _, flow = tiny_archives
    reader = ArchiveReader(flow / archive_name(table["id"][0]))
    cache = FieldCache(budget_mb=0.02)  # room for a few 48x64 fields only
    first = read_fields(reader, [0, 1, 2], cache=cache)
    again = read_fields(reader, [0, 1, 2], cache=cache)
    assert np.array_equal(first, read_fields(reader, [0, 1, 2])) and np.array_equal(first, again)
    read_fields(reader, range(reader.meta["n_fields"]), cache=cache)
    assert 0 < cache.used <= cache.budget
