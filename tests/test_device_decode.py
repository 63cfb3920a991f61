"""Batched JPEG decoding on the training device (exercised on the CPU here) and the trainer's choice."""

import io
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from fr_course.data.casia import BadImageWarning, CasiaWebFace, write_casia_rec
from fr_course.data.device_decode import (DeviceJpegDecoder, EncodedImages, collate_encoded, encoded_loader,
                                          probe_decoders)
from fr_course.training import ConfigError, Trainer, get_profile

SIZE = 32


def jpeg(label: int, k: int) -> bytes:
    rng = np.random.default_rng(100 * label + k)
    array = (rng.random((SIZE, SIZE, 3)) * 60 + 40 * label).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def make_rec(root, counts, replace=None):
    replace = replace or {}
    samples = [(c, replace.get((c, k), jpeg(c, k))) for c, n in enumerate(counts) for k in range(n)]
    write_casia_rec(root, samples, counts, (SIZE, SIZE))
    return CasiaWebFace(root)


def test_device_decode_matches_the_worker_path(tmp_path):
    ds = make_rec(tmp_path, [4, 4])
    batch = collate_encoded([EncodedImages(ds)[i] for i in range(len(ds))])
    decoder = DeviceJpegDecoder(ds, "cpu", SIZE)
    images, labels = decoder(batch)
    reference = torch.stack([ds[i][0] for i in range(len(ds))])
    assert images.dtype == torch.uint8 and images.shape == reference.shape == (8, 3, SIZE, SIZE)
    assert labels.tolist() == [0] * 4 + [1] * 4
    # two JPEG decoders (libjpeg-turbo in PIL and in torchvision) may round a few pixels differently
    assert (images.int() - reference.int()).abs().max() <= 2
    assert decoder.fallback_batches == 0


def test_a_bad_record_falls_back_to_the_dataset_policy(tmp_path):
    png = io.BytesIO()
    Image.fromarray(np.zeros((SIZE, SIZE, 3), np.uint8)).save(png, format="PNG")
    ds = make_rec(tmp_path, [3, 2], replace={(0, 1): b"\xff\xd8garbage", (1, 0): png.getvalue()})
    decoder = DeviceJpegDecoder(ds, "cpu", SIZE)
    batch = collate_encoded([EncodedImages(ds)[i] for i in range(len(ds))])
    with pytest.warns(BadImageWarning):
        images, labels = decoder(batch)
    assert decoder.fallback_batches == 1 and ds.bad_images == 1
    assert torch.equal(images[1], ds[2][0])          # the corrupt one: replaced by the next good of its class
    assert torch.equal(images[3], ds[3][0])          # the PNG: decoded by the dataset (PIL)
    strict = CasiaWebFace(tmp_path, on_bad_image="raise")
    with pytest.raises(ValueError, match=r"train\.rec: key 2: image cannot be decoded"):
        DeviceJpegDecoder(strict, "cpu", SIZE)(batch)


def test_encoded_loader_follows_the_sampler_and_probe_reports_both_paths(tmp_path):
    ds = make_rec(tmp_path, [6, 6])
    loader = encoded_loader(ds, list(range(11, -1, -1)), batch_size=4, num_workers=0)
    encoded, labels, indices = next(iter(loader))
    assert indices.tolist() == [11, 10, 9, 8] and labels.tolist() == [1, 1, 1, 1] and len(encoded) == 4
    probe = probe_decoders(ds, "cpu", SIZE, batch_size=4, num_workers=0, batches=2)
    assert probe["choice"] in ("workers", "device")
    assert probe["workers_images_per_s"] > 0 and probe["device_images_per_s"] > 0
    with pytest.raises(TypeError, match="holds no encoded images"):
        EncodedImages(torch.utils.data.TensorDataset(torch.zeros(2)))


@pytest.mark.parametrize("decode", ["device", "workers", "auto"])
def test_trainer_decode_modes_on_casia(tmp_path, decode, synthetic_casia):
    root = synthetic_casia(SIZE)
    config = get_profile("smoke", data="casia", data_root=str(root), input_size=SIZE, decode=decode,
                         epochs=1, max_steps_per_epoch=2, out_dir=str(tmp_path / "run"), verbose=False)
    trainer = Trainer(config)
    trainer.fit()
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    expected = "device" if decode == "device" else "workers"
    assert results["input"]["choice"] == expected and results["input"]["decode"] == decode
    if decode == "auto":
        assert results["input"]["reason"] == "no CUDA device"
    assert np.isfinite(results["final_loss"]) and results["verification"]


def test_device_decode_needs_jpeg_training_data(tmp_path):
    config = get_profile("smoke", decode="device", out_dir=str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="decode='device' needs JPEG training data"):
        Trainer(config)
    with pytest.raises(ConfigError, match="decode"):
        get_profile("smoke", decode="gpu")
