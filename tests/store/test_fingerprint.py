"""The code fingerprint in the frames/flow recipes: code changes redo archives, comments do not."""

from twostream.store.fingerprint import code_fingerprint, source_fingerprint

CODE = '''
"""Module docstring."""
BOUND = 20.0


def quantize(x):
    """Why it is done so."""
    return (x + BOUND) * 255 / (2 * BOUND)  # map to [0, 255]
'''


def test_comments_docstrings_and_layout_do_not_count():
    same = CODE.replace("# map to [0, 255]", "# a comment that says more").replace(
        '"""Why it is done so."""', '"""Reworded."""').replace("(x + BOUND)", "( x+BOUND )")
    assert source_fingerprint(same) == source_fingerprint(CODE)


def test_a_changed_line_of_code_counts():
    assert source_fingerprint(CODE.replace("20.0", "16.0")) != source_fingerprint(CODE)
    assert source_fingerprint(CODE.replace("* 255", "* 254")) != source_fingerprint(CODE)


def test_the_stages_recipes_carry_it(tiny_archives):
    from twostream.flow.extract import FLOW_CODE
    from twostream.frames.extract import FRAMES_CODE
    from twostream.store.zipstore import archive_name, read_meta

    table, frames, flow = tiny_archives
    meta = read_meta(flow / archive_name(table["id"][0]))
    assert meta["recipe"]["code"] == FLOW_CODE and meta["recipe"]["frames"]["code"] == FRAMES_CODE
    assert FLOW_CODE == code_fingerprint("twostream.flow.extract", "twostream.flow.backends",
                                         "twostream.flow.tvl1", "twostream.store.flow_jpeg",
                                         "twostream.store.zipstore")
