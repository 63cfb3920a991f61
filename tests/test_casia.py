"""CASIA-WebFace readers: insightface and im2rec RecordIO layouts, image folders, bad images."""

import io
import struct
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from fr_course.data.casia import (BadImageWarning, CasiaImageFolder, CasiaWebFace, identity_statistics,
                                  write_casia_rec)
from fr_course.data.recordio import IndexedRecordIO, IRHeader, RecordIOError, pack, unpack

SIZE = 16


def face(label: int, k: int, size: int = SIZE) -> np.ndarray:
    """A distinct (H, W, 3) image per (label, k), so that every item can be recognised exactly."""
    array = np.zeros((size, size, 3), np.uint8)
    array[..., 0] = 40 * label + 10
    array[..., 1] = 20 * k
    array[: size // 2, :, 2] = 200
    return array


def encoded(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def chw(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(2, 0, 1)


def make_rec(root, counts, corrupt=None):
    """insightface layout with class c holding counts[c] PNG images; corrupt: {(c, k): bytes}."""
    corrupt = corrupt or {}
    samples = [(c, corrupt.get((c, k), encoded(face(c, k)))) for c, n in enumerate(counts) for k in range(n)]
    return write_casia_rec(root, samples, counts, (SIZE, SIZE))


def test_insightface_layout_items_counts_and_raw_records(tmp_path):
    make_rec(tmp_path, [2, 3, 1])
    ds = CasiaWebFace(tmp_path)
    assert (ds.layout, len(ds), ds.num_classes) == ("insightface", 6, 3)
    np.testing.assert_array_equal(ds.class_counts, [2, 3, 1])
    np.testing.assert_array_equal(ds.labels, [0, 0, 1, 1, 1, 2])
    expected = [(c, k) for c, n in enumerate([2, 3, 1]) for k in range(n)]
    for i, (c, k) in enumerate(expected):
        image, label = ds[i]
        assert image.dtype == torch.uint8 and image.shape == (3, SIZE, SIZE) and label == c
        assert torch.equal(image, chw(face(c, k)))
    # the layout itself, read back record by record
    rec = IndexedRecordIO(tmp_path / "train.idx", tmp_path / "train.rec")
    header, body = unpack(rec.read_idx(0))
    assert header.flag == 2 and body == b"" and header.label.tolist() == [7, 10]
    assert [unpack(rec.read_idx(k))[0].label.tolist() for k in (7, 8, 9)] == [[1, 3], [3, 6], [6, 7]]
    assert (tmp_path / "property").read_text().strip() == f"3,{SIZE},{SIZE}"
    assert not list(tmp_path.glob("*.partial"))


def test_face2rec2_file_order_and_array_labels(tmp_path):
    """As insightface's face2rec2.py writes: images first with [label, aligned] labels, key 0 after
    them, identity records last, identities not in label order."""
    plan = [(2, 0), (2, 1), (0, 0), (0, 1), (0, 2), (1, 0)]  # (label, k) for keys 1..6
    with IndexedRecordIO(tmp_path / "train.idx", tmp_path / "train.rec", "w") as writer:
        for key, (c, k) in enumerate(plan, 1):
            writer.write_idx(key, pack(IRHeader(2, [c, 1], key, 0), encoded(face(c, k), "PNG")))
        writer.write_idx(0, pack(IRHeader(2, [7, 10], 0, 0), b""))
        for key, rng in zip((7, 8, 9), ([1, 3], [3, 6], [6, 7])):
            writer.write_idx(key, pack(IRHeader(2, rng, key, 0), b""))
    ds = CasiaWebFace(tmp_path)
    np.testing.assert_array_equal(ds.labels, [2, 2, 0, 0, 0, 1])
    np.testing.assert_array_equal(ds.class_counts, [3, 1, 2])
    image, label = ds[1]
    assert label == 2 and torch.equal(image, chw(face(2, 1)))


def test_plain_im2rec_file(tmp_path):
    labels = [1, 0, 1, 2, 0]
    with IndexedRecordIO(tmp_path / "train.idx", tmp_path / "train.rec", "w") as writer:
        for key, c in enumerate(labels):
            writer.write_idx(key, pack(IRHeader(0, c, key, 0), encoded(face(c, key))))
    ds = CasiaWebFace(tmp_path)
    assert ds.layout == "im2rec" and ds.num_classes == 3
    np.testing.assert_array_equal(ds.labels, labels)
    np.testing.assert_array_equal(ds.class_counts, [2, 2, 1])
    image, label = ds[3]
    assert label == 2 and torch.equal(image, chw(face(2, 3)))


def test_property_file_sets_classes_and_size(tmp_path):
    make_rec(tmp_path, [2, 1])
    (tmp_path / "property").write_text("5,16,16\n")
    ds = CasiaWebFace(tmp_path)
    assert ds.num_classes == 5
    np.testing.assert_array_equal(ds.class_counts, [2, 1, 0, 0, 0])
    (tmp_path / "property").write_text("5,32,32\n")
    with pytest.raises(ValueError, match=r"key 1: .*decoded to \(16, 16\), expected \(32, 32\)"):
        CasiaWebFace(tmp_path, on_bad_image="raise")[0]
    (tmp_path / "property").write_text("1,16,16\n")
    with pytest.raises(ValueError, match="says 1 classes but .* has labels up to 1"):
        CasiaWebFace(tmp_path)
    (tmp_path / "property").write_text("ten\n")
    with pytest.raises(ValueError, match="expected 'num_classes,height,width'"):
        CasiaWebFace(tmp_path)


def test_corrupt_jpeg_is_skipped_counted_or_raised(tmp_path):
    good_jpeg = encoded(face(0, 1), "JPEG")
    make_rec(tmp_path, [3, 2], corrupt={(0, 1): good_jpeg[: len(good_jpeg) // 2], (0, 2): b"\xff\xd8garbage"})
    ds = CasiaWebFace(tmp_path)
    with pytest.warns(BadImageWarning) as caught:
        image, label = ds[1]
    assert [str(w.message).split(" skipped")[0].rsplit(": ", 1)[1] for w in caught] == [
        "1 undecodable image(s)", "2 undecodable image(s)"]
    assert "key 2" in str(caught[0].message) and "key 3" in str(caught[1].message)
    # replaced by the next good image of the same class, cyclically: item 2 is bad too -> item 0
    assert label == 0 and torch.equal(image, chw(face(0, 0)))
    assert ds.bad_images == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image, label = ds[2]  # already known bad: no new count, no new warning
    assert ds.bad_images == 2 and torch.equal(image, chw(face(0, 0)))
    strict = CasiaWebFace(tmp_path, on_bad_image="raise")
    with pytest.raises(ValueError, match=r"train\.rec: key 2: image cannot be decoded"):
        strict[1]
    assert torch.equal(strict[3][0], chw(face(1, 0)))
    with pytest.raises(ValueError, match="on_bad_image must be"):
        CasiaWebFace(tmp_path, on_bad_image="ignore")


def test_class_without_any_good_image(tmp_path):
    make_rec(tmp_path, [1, 2], corrupt={(1, 0): b"bad", (1, 1): b"worse"})
    ds = CasiaWebFace(tmp_path)
    with pytest.warns(BadImageWarning), pytest.raises(ValueError, match="no decodable image left in class 1"):
        ds[1]


def test_label_contradicting_its_identity_range(tmp_path):
    make_rec(tmp_path, [2, 2])
    rec = IndexedRecordIO(tmp_path / "train.idx", tmp_path / "train.rec")
    offset = rec.idx[2]
    data = bytearray((tmp_path / "train.rec").read_bytes())
    struct.pack_into("<f", data, offset + 8 + 4, 1.0)  # key 2 (class 0) now claims class 1
    (tmp_path / "train.rec").write_bytes(bytes(data))
    ds = CasiaWebFace(tmp_path)
    with pytest.raises(RecordIOError, match="key 2: label 1 differs from the label 0 of its identity range"):
        ds[1]


def test_damaged_rec_fails_when_opened(tmp_path):
    make_rec(tmp_path, [2, 2])
    rec = tmp_path / "train.rec"
    rec.write_bytes(rec.read_bytes()[:-3])
    with pytest.raises(RecordIOError, match="truncated"):
        CasiaWebFace(tmp_path)


def test_missing_data_names_path_and_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"(?s)nowhere.*data_scripts/make_synthetic_casia\.py"):
        CasiaWebFace(tmp_path / "nowhere")
    (tmp_path / "alice").mkdir()
    with pytest.raises(FileNotFoundError, match=r"train\.rec not found.*CasiaImageFolder"):
        CasiaWebFace(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"(?s)nowhere.*folder_to_rec\.py"):
        CasiaImageFolder(tmp_path / "nowhere")


def test_dataloader_with_two_workers(tmp_path):
    make_rec(tmp_path, [3, 4, 2])
    ds = CasiaWebFace(tmp_path)
    first = ds[0]  # the parent opens the file before the workers fork
    loader = DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
    images, labels = zip(*loader)
    images, labels = torch.cat(images), torch.cat(labels)
    assert labels.tolist() == ds.labels.tolist()
    assert torch.equal(images[0], first[0])
    assert all(torch.equal(images[i], ds[i][0]) for i in range(len(ds)))


def make_tree(root, layout):
    for name, images in layout.items():
        (root / name).mkdir(parents=True)
        for k, data in enumerate(images):
            (root / name / f"{k:03d}.png").write_bytes(data)
    return root


def test_image_folder(tmp_path):
    make_tree(tmp_path, {"bob": [encoded(face(1, 0))], "alice": [encoded(face(0, 0)), encoded(face(0, 1))]})
    (tmp_path / "alice" / "notes.txt").write_text("not an image")
    (tmp_path / ".cache").mkdir()
    ds = CasiaImageFolder(tmp_path, transform=lambda x: x.flip(-1))
    assert ds.classes == ["alice", "bob"] and ds.num_classes == 2 and len(ds) == 3
    np.testing.assert_array_equal(ds.class_counts, [2, 1])
    image, label = ds[2]
    assert label == 1 and torch.equal(image, chw(face(1, 0)).flip(-1))


def test_image_folder_bad_and_wrong_size_images(tmp_path):
    make_tree(tmp_path, {"a": [encoded(face(0, 0)), b"broken", encoded(face(0, 2, size=20))]})
    ds = CasiaImageFolder(tmp_path)
    with pytest.warns(BadImageWarning) as caught:
        image, _ = ds[1]  # 001 is broken, its successor 002 has the wrong size: wraps round to 000
    assert torch.equal(image, chw(face(0, 0))) and ds.bad_images == 2
    assert "001.png" in str(caught[0].message)
    assert "002.png: decoded to (20, 20), expected (16, 16)" in str(caught[1].message)
    resized = CasiaImageFolder(tmp_path, image_size=20, on_bad_image="raise")
    assert resized[2][0].shape == (3, 20, 20)


def test_empty_identity_folder_is_an_error(tmp_path):
    make_tree(tmp_path, {"a": [encoded(face(0, 0))], "b": [], "c": []})
    (tmp_path / "c" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"2 identity folder\(s\) .* hold no image .*/b, .*/c"):
        CasiaImageFolder(tmp_path)


def test_identity_statistics_against_pairwise_gini():
    counts = np.random.default_rng(3).integers(2, 800, size=57)
    stats = identity_statistics(counts)
    pairwise = np.abs(counts[:, None] - counts[None, :]).sum() / (2 * len(counts) ** 2 * counts.mean())
    assert stats["gini"] == pytest.approx(pairwise, rel=1e-12)
    assert (stats["min"], stats["max"], stats["images"]) == (counts.min(), counts.max(), counts.sum())
    assert stats["median"] == np.median(counts) and stats["mean"] == pytest.approx(counts.mean())
    assert identity_statistics([5, 5, 5])["gini"] == pytest.approx(0.0, abs=1e-15)
    assert identity_statistics([0, 0, 0, 8])["gini"] == pytest.approx(0.75)


def test_writer_checks_class_order(tmp_path):
    with pytest.raises(ValueError, match="grouped by class"):
        write_casia_rec(tmp_path, [(1, b"x"), (0, b"y")], [1, 1], (SIZE, SIZE))
    with pytest.raises(ValueError, match="got 1 images, class_counts announces 2"):
        write_casia_rec(tmp_path, [(0, b"x")], [1, 1], (SIZE, SIZE))
    assert not (tmp_path / "train.rec").exists() and not (tmp_path / "property").exists()
