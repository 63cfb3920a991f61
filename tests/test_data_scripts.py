"""data_scripts/: each script end to end at a tiny scale, its output read back with the library."""

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fr_course.data.align import arcface_template
from fr_course.data.casia import CasiaWebFace, identity_statistics
from fr_course.data.verification import find_verification_sets, load_bin

SCRIPTS = Path(__file__).resolve().parents[1] / "data_scripts"
NAMES = ["inspect_casia", "folder_to_rec", "lfw_to_bin", "make_synthetic_casia"]


def load_script(name):
    spec = importlib.util.spec_from_file_location(f"data_scripts_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, *args):
    env = dict(os.environ, TQDM_DISABLE="1")
    return subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def png(array, fmt="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def face(label, k, size=16):
    array = np.zeros((size, size, 3), np.uint8)
    array[..., 0], array[..., 1], array[: size // 2, :, 2] = (50 * label + 5) % 256, (30 * k) % 256, 220
    return array


@pytest.mark.parametrize("name", NAMES)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_script(name).main(["--help"])
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_folder_to_rec_and_inspect(tmp_path, capsys):
    src = tmp_path / "faces"
    layout = {"carol": 3, "alice": 2, "bob": 1}
    for name, n in layout.items():
        (src / name).mkdir(parents=True)
        for k in range(n):
            (src / name / f"{k}.png").write_bytes(png(face(sorted(layout).index(name), k)))
    (src / "carol" / "x.bmp").write_bytes(png(face(2, 9), "BMP"))  # re-encoded as JPEG
    (src / "alice" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    out = tmp_path / "rec"
    done = run("folder_to_rec", src, out)
    assert done.returncode == 0, done.stderr
    assert "7 written, 1 left out" in done.stdout and "broken.jpg" in done.stdout
    ds = CasiaWebFace(out, on_bad_image="raise")
    np.testing.assert_array_equal(ds.class_counts, [2, 1, 4])  # alice, bob, carol
    assert torch.equal(ds[2][0], torch.from_numpy(face(1, 0)).permute(2, 0, 1))
    assert (out / "classes.txt").read_text().splitlines() == ["0\talice", "1\tbob", "2\tcarol"]
    assert (out / "property").read_text().strip() == "3,16,16"

    inspect = load_script("inspect_casia")
    assert inspect.main([str(out), "--out", str(tmp_path / "report")]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    expected = identity_statistics([2, 1, 4])
    assert {k: summary[k] for k in expected} == pytest.approx(expected)
    assert summary["undecodable"] == 0 and (tmp_path / "report" / "long_tail.png").stat().st_size > 1000
    assert "Gini" in capsys.readouterr().out
    # the tree itself, with its broken file: found by the scan, exit status 1
    assert inspect.main([str(src), "--out", str(tmp_path / "report2")]) == 1
    assert "broken.jpg" in capsys.readouterr().out


def test_folder_to_rec_refuses_empty_identity(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.png").write_bytes(png(face(0, 0)))
    (tmp_path / "empty").mkdir()
    assert load_script("folder_to_rec").main([str(tmp_path), str(tmp_path / "out")]) == 2
    assert "hold no image" in capsys.readouterr().err and not (tmp_path / "out").exists()


def make_lfw(root, people, size):
    for name, n in people.items():
        (root / name).mkdir(parents=True)
        for i in range(1, n + 1):
            (root / name / f"{name}_{i:04d}.jpg").write_bytes(png(face(len(name), i, size), "JPEG"))


PAIRS = "2\t1\nAnn\t1\t2\nAnn\t1\tBo\t1\nBo\t1\t2\nBo\t2\tAnn\t2\n"


def test_lfw_to_bin_aligned_input(tmp_path):
    make_lfw(tmp_path / "lfw", {"Ann": 2, "Bo": 2}, size=16)
    (tmp_path / "pairs.txt").write_text(PAIRS)
    done = run("lfw_to_bin", tmp_path / "lfw", tmp_path / "pairs.txt", tmp_path / "data" / "lfw.bin",
               "--image-size", 16)
    assert done.returncode == 0, done.stderr
    assert "4 (2 matched, 2 mismatched)" in done.stdout
    images, is_same = load_bin(tmp_path / "data" / "lfw.bin")
    assert is_same.tolist() == [True, False, True, False]
    order = ["Ann/Ann_0001", "Ann/Ann_0002", "Ann/Ann_0001", "Bo/Bo_0001",
             "Bo/Bo_0001", "Bo/Bo_0002", "Bo/Bo_0002", "Ann/Ann_0002"]
    assert images == [(tmp_path / "lfw" / f"{p}.jpg").read_bytes() for p in order]
    pairs = find_verification_sets(tmp_path / "data")["lfw"]
    assert pairs[0].shape == (3, 16, 16)


def test_lfw_to_bin_with_landmarks_and_errors(tmp_path, capsys):
    make_lfw(tmp_path / "lfw", {"Ann": 2, "Bo": 2}, size=40)
    (tmp_path / "pairs.txt").write_text(PAIRS)
    script = load_script("lfw_to_bin")
    args = [str(tmp_path / "lfw"), str(tmp_path / "pairs.txt"), str(tmp_path / "lfw.bin"), "--image-size", "16"]
    assert script.main(args) == 2  # 40x40 images are not aligned 16x16 crops
    assert "Ann_0001.jpg is 40x40, not an aligned 16x16 crop" in capsys.readouterr().err
    points = arcface_template(16) * 2.0 + 3.0  # the face sits at twice the crop's scale in the photo
    lines = [f"{name}/{name}_{i:04d}.jpg " + " ".join(f"{v:.4f}" for v in points.ravel())
             for name in ("Ann", "Bo") for i in (1, 2)]
    (tmp_path / "marks.txt").write_text("# five points\n" + "\n".join(lines[:3]) + "\n")
    assert script.main(args + ["--landmarks", str(tmp_path / "marks.txt")]) == 2
    assert "no landmarks for Bo/Bo_0002.jpg" in capsys.readouterr().err
    (tmp_path / "marks.txt").write_text("\n".join(lines) + "\n")
    assert script.main(args + ["--landmarks", str(tmp_path / "marks.txt")]) == 0
    images, _ = load_bin(tmp_path / "lfw.bin")
    aligned = np.asarray(Image.open(io.BytesIO(images[0])).convert("RGB"), dtype=np.float64)
    # crop pixel (x, y) shows photo pixel (2x + 3, 2y + 3): compare with the photo resampled there
    photo = np.asarray(Image.open(tmp_path / "lfw" / "Ann" / "Ann_0001.jpg").convert("RGB"), dtype=np.float64)
    assert aligned.shape == (16, 16, 3)
    assert np.abs(aligned[2:14, 2:14] - photo[7:31:2, 7:31:2]).mean() < 6


def test_make_synthetic_casia(tmp_path):
    args = ["--scale", "0.0005", "--image-size", "24", "--pairs-per-fold", "1", "--seed", "3"]
    done = run("make_synthetic_casia", "--out", tmp_path / "a", "--workers", 2, *args)
    assert done.returncode == 0, done.stderr
    assert "identities   5 " in done.stdout and "245 at 24x24" in done.stdout
    ds = CasiaWebFace(tmp_path / "a", on_bad_image="raise")
    assert (len(ds), ds.num_classes, ds.layout) == (245, 5, "insightface")
    assert (tmp_path / "a" / "property").read_text().strip() == "5,24,24"
    sets = find_verification_sets(tmp_path / "a")
    assert list(sets) == ["lfw", "cfp_fp", "agedb_30"]
    for pairs in sets.values():
        assert pairs.is_same.tolist() == [True, False] * 10 and pairs[0].shape == (3, 24, 24)
    # the records hold the synthetic faces, grouped by identity
    from fr_course.data.synthetic import make_faces

    sizes = load_script("make_synthetic_casia").sizes(0.0005, 1)
    train = make_faces("casia", seed=3, image_size=24, **sizes).train
    order = np.argsort(train.labels, kind="stable")
    np.testing.assert_array_equal(ds.labels, train.labels[order])
    for i in (0, 244):
        stored, label = ds[i]
        rendered, expected_label = train[int(order[i])]
        assert label == expected_label
        assert (stored.float() - rendered.float()).abs().mean() < 6  # JPEG q90
    # byte-identical whatever the number of worker processes
    assert load_script("make_synthetic_casia").main(["--out", str(tmp_path / "b"), "--workers", "0", *args]) == 0
    for name in ("train.rec", "train.idx", "property", "lfw.bin", "cfp_fp.bin", "agedb_30.bin"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    with pytest.raises(SystemExit):
        load_script("make_synthetic_casia").main(["--out", str(tmp_path / "c"), "--scale", "0"])
