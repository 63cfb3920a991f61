"""Verification sets: the restricted .bin unpickler, Python-2 files, LFW pairs.txt, PairSet discovery."""

import io
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from fr_course.data.pairs import PairSet
from fr_course.data.verification import (UnsafePickleError, find_verification_sets, load_bin, load_pairset,
                                         read_pairs, write_bin)


def jpeg(value: int, size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


IMAGES = [jpeg(40 * i) for i in range(4)]
FLAGS = [True, False]


# --- Python-2 pickles, assembled opcode by opcode (what insightface's scripts produced) -----------
def py2_str(data: bytes) -> bytes:
    """A Python-2 ``str``: SHORT_BINSTRING or BINSTRING."""
    return (b"U" + bytes([len(data)]) + data) if len(data) < 256 else (b"T" + struct.pack("<i", len(data)) + data)


def py2_list(items) -> bytes:
    return b"]" + b"(" + b"".join(items) + b"e"


def py2_bool(flag: bool) -> bytes:
    return b"\x88" if flag else b"\x89"


def py2_uint8_array(data: bytes) -> bytes:
    """``cv2.imencode``'s (n, 1) uint8 array as NumPy 1.x under Python 2 pickled it (protocol 2)."""
    dtype = (b"cnumpy\ndtype\n" + py2_str(b"u1") + b"K\x00K\x01\x87R"
             + b"(K\x03" + py2_str(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + b"K\x00\x85" + py2_str(b"b")
            + b"\x87R" + b"(K\x01" + b"K" + bytes([len(data)]) + b"K\x01\x86" + dtype + b"\x89" + py2_str(data)
            + b"tb")


def py2_pickle(image_items) -> bytes:
    return b"\x80\x02" + py2_list(image_items) + py2_list(py2_bool(f) for f in FLAGS) + b"\x86."


def test_lfw2pack_form_python2_bytes(tmp_path):
    path = tmp_path / "lfw.bin"
    path.write_bytes(py2_pickle(py2_str(im) for im in IMAGES))
    with pytest.raises(UnicodeDecodeError):  # why the retry is needed
        pickle.loads(path.read_bytes())
    images, is_same = load_bin(path)
    assert images == IMAGES and is_same.dtype == bool and is_same.tolist() == FLAGS


def test_cfp2pack_form_python2_numpy_arrays(tmp_path):
    path = tmp_path / "cfp_fp.bin"
    small = [jpeg(10 * i, size=4)[:200] for i in range(4)]  # < 256 bytes: fits the one-byte shape field
    path.write_bytes(py2_pickle(py2_uint8_array(im) for im in small))
    images, is_same = load_bin(path)
    assert images == small and is_same.tolist() == FLAGS


def test_python3_forms_round_trip(tmp_path):
    arrays = [np.frombuffer(im, np.uint8) for im in IMAGES]
    for protocol in (2, 4, 5):  # protocol 2 writes bytes through _codecs.encode(str, "latin1")
        path = tmp_path / f"p{protocol}.bin"
        path.write_bytes(pickle.dumps((arrays, np.array(FLAGS)), protocol=protocol))
        images, is_same = load_bin(path)
        assert images == IMAGES and is_same.tolist() == FLAGS
        path.write_bytes(pickle.dumps((IMAGES, FLAGS), protocol=protocol))
        assert load_bin(path)[0] == IMAGES
    write_bin(tmp_path / "w.bin", IMAGES, FLAGS)
    images, is_same = load_bin(tmp_path / "w.bin")
    assert images == IMAGES and is_same.tolist() == FLAGS


class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Evaluates:
    def __reduce__(self):
        return eval, ("__import__('os').getcwd()",)


@pytest.mark.parametrize("make", [
    lambda marker: ([RunsCommand(marker), b"x"], [True]),
    lambda marker: (IMAGES[:2], [RunsCommand(marker)]),
    lambda marker: RunsCommand(marker),
    lambda marker: ([Evaluates(), b"x"], [True]),
])
def test_malicious_bin_is_refused_without_running(tmp_path, make):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(make(marker), protocol=2)
    assert b"system" in payload or b"eval" in payload  # the file really names a dangerous callable
    path = tmp_path / "lfw.bin"
    path.write_bytes(payload)
    refused = r"lfw\.bin: refusing to load: the pickle asks for (posix|__builtin__)\."
    with pytest.raises(UnsafePickleError, match=refused):
        load_bin(path)
    assert not marker.exists()


def test_object_and_float_arrays_are_refused(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(pickle.dumps(([np.array([b"a", 1], dtype=object)], [True])))
    with pytest.raises(UnsafePickleError, match=r"x\.bin: refusing to load: dtype 'O8' refused"):
        load_bin(path)
    path.write_bytes(pickle.dumps((IMAGES[:2], np.array([1.0]))))
    with pytest.raises(UnsafePickleError, match="dtype 'f8' refused"):
        load_bin(path)


@pytest.mark.parametrize("obj, message", [
    ({"images": IMAGES}, "holds a dict"),
    ((IMAGES, FLAGS, None), "holds a tuple of length 3"),
    ((IMAGES[:3], [True]), "3 images for 1 pairs"),
    (([], []), "0 images for 0 pairs"),
    ((IMAGES[:1] + [7], [True]), "image 1 is a int"),
    ((IMAGES[:2], ["yes"]), r"is_same\[0\] is 'yes'"),
    ((IMAGES[:2], 1), "is_same is a int"),
    (("abc", [True]), "the images are a str"),
])
def test_wrong_structure_says_what_was_expected(tmp_path, obj, message):
    path = tmp_path / "agedb_30.bin"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(ValueError, match=message + r".*expected a pickled pair \(list of 2P encoded images"):
        load_bin(path)


def test_not_a_pickle_and_missing_file(tmp_path):
    path = tmp_path / "lfw.bin"
    path.write_bytes(b"\x80\x04this is not a pickle")
    with pytest.raises(ValueError, match=r"lfw\.bin: not a readable pickle"):
        load_bin(path)
    with pytest.raises(FileNotFoundError, match=r"(?s)nope\.bin.*lfw_to_bin\.py"):
        load_bin(tmp_path / "nope.bin")


def make_lfw(root, people):
    for name, count in people.items():
        (root / name).mkdir(parents=True)
        for i in range(1, count + 1):
            (root / name / f"{name}_{i:04d}.jpg").write_bytes(b"jpg")
    return root


def test_read_pairs(tmp_path):
    lfw = make_lfw(tmp_path / "lfw", {"Alice_A": 2, "Bob": 12})
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("2\t1\nAlice_A\t1\t2\nAlice_A\t1\tBob\t12\nBob\t2\t10\nBob\t3\tAlice_A\t2\n")
    a, b, same = read_pairs(pairs, lfw)
    name = lambda p: os.path.relpath(p, lfw)
    assert [name(p) for p in a] == ["Alice_A/Alice_A_0001.jpg", "Alice_A/Alice_A_0001.jpg",
                                    "Bob/Bob_0002.jpg", "Bob/Bob_0003.jpg"]
    assert [name(p) for p in b] == ["Alice_A/Alice_A_0002.jpg", "Bob/Bob_0012.jpg",
                                    "Bob/Bob_0010.jpg", "Alice_A/Alice_A_0002.jpg"]
    assert same.dtype == bool and same.tolist() == [True, False, True, False]
    pairs.write_text("1\nAlice_A\t1\t2\nBob\t1\tAlice_A\t1\n")  # pairsDevTrain.txt style header
    assert read_pairs(pairs, lfw)[2].tolist() == [True, False]


@pytest.mark.parametrize("text, error, message", [
    ("2\t1\nAlice\t1\t2\nAlice\t1\tBob\t1\n", ValueError,
     "announces 2 folds x \\(1 \\+ 1\\) pairs = 4 lines, the file has 2"),
    ("1\t1\nAlice\t1\tBob\t1\nAlice\t1\t2\n", ValueError, "line 2: expected 'name i j' \\(a matched pair\\)"),
    ("1\t1\nAlice\t1\t2\nAlice\t1\t2\n", ValueError, "line 3: expected 'name1 i name2 j'"),
    ("ten\nAlice\t1\t2\n", ValueError, "line 1: expected 'n_folds<TAB>pairs_per_fold'"),
    ("1\t1\nAlice\tone\t2\nAlice\t1\tBob\t1\n", ValueError, "line 2: image number 'one'"),
    ("1\t1\nAlice\t1\t3\nAlice\t1\tBob\t1\n", FileNotFoundError, "1 image\\(s\\) named by .* first: .*Alice_0003.jpg"),
])
def test_read_pairs_errors(tmp_path, text, error, message):
    lfw = make_lfw(tmp_path / "lfw", {"Alice": 2, "Bob": 1})
    (tmp_path / "pairs.txt").write_text(text)
    with pytest.raises(error, match=message):
        read_pairs(tmp_path / "pairs.txt", lfw)


def test_pairsets_found_beside_the_training_data(tmp_path):
    write_bin(tmp_path / "agedb_30.bin", IMAGES, FLAGS)
    write_bin(tmp_path / "lfw.bin", IMAGES[:2], [False])
    write_bin(tmp_path / "other.bin", IMAGES[:2], [True])
    found = find_verification_sets(tmp_path)
    assert list(found) == ["lfw", "agedb_30"]
    agedb = found["agedb_30"]
    assert isinstance(agedb, PairSet) and agedb.name == "agedb_30" and len(agedb) == 4
    assert agedb.is_same.tolist() == FLAGS
    image = agedb[2]
    assert image.dtype == torch.uint8 and image.shape == (3, 8, 8)
    assert abs(int(image.float().mean()) - 80) <= 2  # the third image is grey level 80
    assert load_pairset(tmp_path / "lfw.bin", image_size=16)[0].shape == (3, 16, 16)
    (tmp_path / "no_bins").mkdir()
    assert find_verification_sets(tmp_path / "no_bins") == {}
    with pytest.raises(FileNotFoundError, match=r"(?s)missing.*make_synthetic_casia\.py"):
        find_verification_sets(tmp_path / "missing")
