"""MXNet RecordIO: byte compatibility against hand-built bytes, split records, and damaged files."""

import os
import pickle
import struct

import numpy as np
import pytest

from fr_course.data.recordio import IndexedRecordIO, IRHeader, RecordIOError, pack, unpack

# The documented format, written out here independently of the module under test.
CURRENT_MAGIC = 0xCED7230A  # dmlc-core since 2015: cflag in bits 29-31, 29-bit length
OLD_MAGIC = 0x3ED7230A      # dmlc-core 2015: cflag in bits 30-31, 30-bit length
M = struct.pack("<I", CURRENT_MAGIC)


def part(cflag, data, magic=CURRENT_MAGIC, shift=29):
    """One part header + data + zero padding to 4 bytes, straight from the format description."""
    return struct.pack("<II", magic, (cflag << shift) | len(data)) + data + b"\0" * (-len(data) % 4)


# payload -> the bytes MXNet writes for it
CASES = [
    (b"abcdefgh", part(0, b"abcdefgh")),
    (b"hello", part(0, b"hello")),                                      # padded to 8
    (b"x" + M + b"yz", part(0, b"x" + M + b"yz")),                      # magic unaligned: not split
    (b"\1\2\3\4" + M + b"\5\6\7", part(1, b"\1\2\3\4") + part(3, b"\5\6\7")),
    (M + b"abcd" + M, part(1, b"") + part(2, b"abcd") + part(3, b"")),  # magic at both ends
    (b"", part(0, b"")),
    (b"abc" + M, part(0, b"abc" + M)),                                  # magic at offset 3: unaligned
]


def write(tmp_path, payloads, name="t"):
    idx, rec = tmp_path / f"{name}.idx", tmp_path / f"{name}.rec"
    with IndexedRecordIO(idx, rec, "w") as writer:
        for key, payload in enumerate(payloads):
            writer.write_idx(key, payload)
    return idx, rec


@pytest.mark.parametrize("payload, expected", CASES)
def test_writer_emits_mxnet_bytes(tmp_path, payload, expected):
    idx, rec = write(tmp_path, [b"pre", payload])
    first = part(0, b"pre")
    assert rec.read_bytes() == first + expected
    assert idx.read_text() == f"0\t0\n1\t{len(first)}\n"


def test_reader_decodes_hand_built_file(tmp_path):
    blob, offsets = b"", []
    for _, encoded in CASES:
        offsets.append(len(blob))
        blob += encoded
    (tmp_path / "h.rec").write_bytes(blob)
    # keys need not be 0..n-1 nor in file order
    lines = [f"{10 + k}\t{off}" for k, off in reversed(list(enumerate(offsets)))]
    (tmp_path / "h.idx").write_text("\n".join(lines) + "\n")
    with IndexedRecordIO(tmp_path / "h.idx", tmp_path / "h.rec") as reader:
        assert reader.keys == [10 + k for k in reversed(range(len(CASES)))]
        for k, (payload, _) in enumerate(CASES):
            assert reader.read_idx(10 + k) == payload


def test_reader_accepts_the_2015_generation(tmp_path):
    old = struct.pack("<I", OLD_MAGIC)
    payload = b"\1\2\3\4" + old + b"tail!"
    blob = part(1, b"\1\2\3\4", OLD_MAGIC, 30) + part(3, b"tail!", OLD_MAGIC, 30)
    (tmp_path / "o.rec").write_bytes(blob)
    (tmp_path / "o.idx").write_text("0\t0\n")
    assert IndexedRecordIO(tmp_path / "o.idx", tmp_path / "o.rec").read_idx(0) == payload


def test_random_payloads_with_many_magics_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    payloads = []
    for n in range(40):
        words = rng.integers(0, 2**32, size=n, dtype=np.uint32)
        words[rng.random(n) < 0.3] = CURRENT_MAGIC
        payloads.append(words.astype("<u4").tobytes() + bytes(rng.integers(0, 256, n % 4, dtype=np.uint8)))
    idx, rec = write(tmp_path, payloads)
    reader = IndexedRecordIO(idx, rec)
    assert [reader.read_idx(k) for k in reader.keys] == payloads
    assert rec.stat().st_size % 4 == 0


def test_pack_unpack_match_struct_layout():
    scalar = pack(IRHeader(5, 3.0, 7, 9), b"JPEG")  # a numeric label forces flag 0, as in mxnet
    assert scalar == struct.pack("<IfQQ", 0, 3.0, 7, 9) + b"JPEG"
    multi = pack(IRHeader(0, [4, 1.5], 0, 2), b"img")
    assert multi == struct.pack("<IfQQ", 2, 0.0, 0, 2) + struct.pack("<2f", 4, 1.5) + b"img"
    header, body = unpack(multi)
    assert (header.flag, header.id, header.id2, body) == (2, 0, 2, b"img")
    np.testing.assert_array_equal(header.label, [4.0, 1.5])
    header, body = unpack(scalar)
    assert header == IRHeader(0, 3.0, 7, 9) and body == b"JPEG"
    with pytest.raises(RecordIOError, match="24-byte IRHeader"):
        unpack(b"short")
    with pytest.raises(RecordIOError, match="announces 3 float32 labels"):
        unpack(struct.pack("<IfQQ", 3, 0.0, 0, 0) + b"\0" * 4)


def test_truncated_rec_names_key_and_offset(tmp_path):
    idx, rec = write(tmp_path, [b"a" * 40, b"b" * 40])
    rec.write_bytes(rec.read_bytes()[:-10])
    reader = IndexedRecordIO(idx, rec)
    assert reader.read_idx(0) == b"a" * 40
    with pytest.raises(RecordIOError, match=r"key 1: truncated record, 40 bytes announced at offset 48"):
        reader.read_idx(1)
    with pytest.raises(RecordIOError, match="truncated"):
        reader.check_end()
    rec.write_bytes(rec.read_bytes()[:52])  # cut inside the part header
    with pytest.raises(RecordIOError, match=r"key 1: truncated record.*part header at offset 48"):
        IndexedRecordIO(idx, rec).read_idx(1)


def test_wrong_magic_names_file_key_and_offset(tmp_path):
    idx, rec = write(tmp_path, [b"a" * 8, b"b" * 8])
    data = bytearray(rec.read_bytes())
    data[16:20] = b"\xde\xad\xbe\xef"
    rec.write_bytes(bytes(data))
    with pytest.raises(RecordIOError, match=r"t\.rec: key 1: wrong magic 0xefbeadde at offset 16"):
        IndexedRecordIO(idx, rec).read_idx(1)


def test_idx_pointing_past_the_end(tmp_path):
    idx, rec = write(tmp_path, [b"a" * 8])
    idx.write_text("0\t0\n1\t4096\n")
    reader = IndexedRecordIO(idx, rec)
    with pytest.raises(RecordIOError, match=r"key 1 points at offset 4096, past the end of .*t\.rec \(16 bytes\)"):
        reader.read_idx(1)
    with pytest.raises(RecordIOError, match="past the end"):
        reader.check_end()


def test_unknown_key_malformed_idx_and_missing_files(tmp_path):
    idx, rec = write(tmp_path, [b"a"])
    with pytest.raises(KeyError, match=r"key 7 is not in .*t\.idx"):
        IndexedRecordIO(idx, rec).read_idx(7)
    idx.write_text("0\t0\nbanana\n")
    with pytest.raises(RecordIOError, match=r"t\.idx, line 2: malformed index line 'banana'"):
        IndexedRecordIO(idx, rec)
    idx.write_text("0\t0\n0\t0\n")
    with pytest.raises(RecordIOError, match="key 0 appears twice"):
        IndexedRecordIO(idx, rec)
    with pytest.raises(FileNotFoundError, match="nope.rec"):
        IndexedRecordIO(idx, tmp_path / "nope.rec")


def test_split_record_with_broken_continuation(tmp_path):
    (tmp_path / "s.rec").write_bytes(part(1, b"abcd") + part(0, b"efgh"))
    (tmp_path / "s.idx").write_text("0\t0\n1\t12\n")
    reader = IndexedRecordIO(tmp_path / "s.idx", tmp_path / "s.rec")
    with pytest.raises(RecordIOError, match="key 0: part header at offset 12 has cflag 0"):
        reader.read_idx(0)
    (tmp_path / "s.rec").write_bytes(part(3, b"abcd"))
    with pytest.raises(RecordIOError, match="cflag 3, impossible at the start"):
        IndexedRecordIO(tmp_path / "s.idx", tmp_path / "s.rec").read_idx(0)


def test_writer_refuses_duplicates_and_misuse(tmp_path):
    with IndexedRecordIO(tmp_path / "w.idx", tmp_path / "w.rec", "w") as writer:
        writer.write_idx(3, b"x")
        with pytest.raises(KeyError, match="already written"):
            writer.write_idx(3, b"y")
        with pytest.raises(RuntimeError, match="open for writing"):
            writer.read_idx(3)
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(writer)
    with pytest.raises(ValueError, match="flag must be"):
        IndexedRecordIO(tmp_path / "w.idx", tmp_path / "w.rec", "a")


def test_reopens_in_a_new_process_and_after_unpickling(tmp_path):
    idx, rec = write(tmp_path, [b"first!!!", b"second!!"])
    reader = IndexedRecordIO(idx, rec)
    assert reader.read_idx(0) == b"first!!!"
    handle = reader._file
    reader._pid = -1  # what a forked DataLoader worker sees: a handle opened by another process
    assert reader.read_idx(1) == b"second!!"
    assert reader._file is not handle and reader._pid == os.getpid()
    clone = pickle.loads(pickle.dumps(reader))  # what a spawned worker gets
    assert clone._file is None and clone.read_idx(0) == b"first!!!"
