import numpy as np
import pytest

from twostream.store.zipstore import ArchiveReader, decode_jpeg, encode_jpeg, is_current, read_meta, write_archive


def test_archive_round_trip_and_recipe(tmp_path):
    image = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
    path = tmp_path / "Class" / "v_x.zip"
    write_archive(path, {"rgb/00000.jpg": encode_jpeg(image, 95)}, {"recipe": {"q": 95}, "n_frames": 1})
    assert not list(tmp_path.rglob("*.tmp*"))  # atomic: no temp file left behind
    with ArchiveReader(path) as reader:
        assert reader.meta["n_frames"] == 1
        assert reader.image("rgb/00000.jpg").shape == image.shape
    assert is_current(path, {"q": 95}) and not is_current(path, {"q": 90})


def test_unreadable_archive_is_not_current(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"not a zip")
    assert read_meta(path) is None and not is_current(path, {})


def test_jpeg_grayscale_round_trip():
    gray = np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1))
    back = decode_jpeg(encode_jpeg(gray, 95), grayscale=True)
    assert np.abs(back.astype(int) - gray).max() <= 4


def test_an_archive_is_a_function_of_its_members_alone(tmp_path, monkeypatch):
    """Written at two times, members given in two orders: the same bytes (DVC hashes match
    across runs and machines), and a reader sees no difference."""
    import time

    members = {f"x/{i:05d}.jpg": bytes([i]) * (10 + i) for i in range(3)}
    members.update({f"rgb/{i:05d}.jpg": bytes([9 - i]) * 7 for i in range(3)})
    meta = {"recipe": {"q": 95}, "n_frames": 3}
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    write_archive(tmp_path / "a.zip", members, meta)
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    write_archive(tmp_path / "b.zip", dict(reversed(list(members.items()))), meta)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with ArchiveReader(tmp_path / "b.zip") as reader:
        assert reader.read("x/00002.jpg") == members["x/00002.jpg"] and reader.meta == meta


def test_a_damaged_archive_fails_naming_it_and_the_fix(tmp_path):
    from twostream.store.zipstore import DamagedArchiveError

    path = tmp_path / "v.zip"
    write_archive(path, {"a.jpg": bytes(range(256)) * 64, "b.jpg": b"y" * 100}, {"recipe": {"x": 1}})
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # truncated: no central directory
    with pytest.raises(DamagedArchiveError, match="v.zip: damaged archive .*dvc repro"):
        ArchiveReader(path).meta
    at = good.index(bytes(range(256))) + 100
    path.write_bytes(good[:at] + b"\x00" * 8 + good[at + 8:])  # a member's bytes changed in place
    reader = ArchiveReader(path)
    assert reader.meta == {"recipe": {"x": 1}} and reader.read("b.jpg") == b"y" * 100
    with pytest.raises(DamagedArchiveError, match="v.zip: damaged archive .*CRC"):
        reader.read("a.jpg")
    with pytest.raises(DamagedArchiveError, match="no member c.jpg"):
        reader.read("c.jpg")
