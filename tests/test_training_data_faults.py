"""Faults in real training data met *during* a run: bad images are skipped and the run goes on; a
damaged RecordIO file stops the run with a message naming the file, and the last good checkpoint
and metrics survive byte for byte."""

import json
import warnings

import numpy as np
import pytest

from fr_course.data.casia import BadImageWarning, CasiaWebFace
from fr_course.data.recordio import IndexedRecordIO, RecordIOError, unpack
from fr_course.training import ConfigError, Trainer, get_profile

SIZE = 32


def config(root, out, epochs):
    return get_profile("smoke", data="casia", data_root=str(root), input_size=SIZE, decode="workers",
                       epochs=epochs, max_steps_per_epoch=2, out_dir=str(out), verbose=False)


def image_records(root):
    """(offset of the record, offset of its JPEG bytes, first of its class?) for every image of the set."""
    dataset = CasiaWebFace(root)
    reader = IndexedRecordIO(root / "train.idx", root / "train.rec")
    records = []
    for i, key in enumerate(dataset.keys):
        offset = reader.idx[int(key)]
        payload = reader.read_idx(int(key))
        _, image = unpack(payload)
        first = i == 0 or dataset.labels[i] != dataset.labels[i - 1]
        records.append((offset, offset + 8 + len(payload) - len(image), first))  # 8: magic + length
    return records


def overwrite(path, offset, data: bytes):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def test_undecodable_images_are_skipped_and_the_run_finishes(tmp_path, synthetic_casia):
    root = synthetic_casia(SIZE)
    for _, jpeg_at, _ in image_records(root)[1::2]:
        overwrite(root / "train.rec", jpeg_at + 2, bytes(64))  # keep the JPEG start marker, wipe the headers
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Trainer(config(root, tmp_path / "run", epochs=1)).fit()
    assert any(issubclass(w.category, BadImageWarning) and "undecodable image" in str(w.message) for w in caught)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert np.isfinite(results["final_loss"]) and results["verification"]


@pytest.mark.parametrize("damage", ["wrong magic", "truncated"])
def test_a_damaged_rec_never_costs_the_last_good_checkpoint(tmp_path, synthetic_casia, damage):
    root = synthetic_casia(SIZE)
    out = tmp_path / "run"
    Trainer(config(root, out, epochs=1)).fit()
    kept = {name: (out / name).read_bytes() for name in ("checkpoint.pt", "metrics.jsonl", "results.json")}

    rec = root / "train.rec"
    if damage == "wrong magic":
        # Opening the set reads the first image of each class (its label, as insightface does); spare
        # those, so that the fault is met mid-epoch by the DataLoader. All the others are hit: epoch
        # 2's first batch meets one.
        for offset, _, first in image_records(root):
            if not first:
                overwrite(rec, offset, b"\xde\xad\xbe\xef")
        error, expected = RecordIOError, r"train\.rec: key \d+: wrong magic 0xefbeadde at offset \d+"
    else:  # found when the set is opened, before the trainer touches the run directory
        rec.write_bytes(rec.read_bytes()[:-100])
        error, expected = ConfigError, r"train\.rec.*truncated"

    with pytest.raises(error, match=expected):
        Trainer(config(root, out, epochs=2), resume=True).fit()
    assert {name: (out / name).read_bytes() for name in kept} == kept
    assert sorted(p.name for p in out.iterdir()) == sorted(kept)  # no half-written file left behind
