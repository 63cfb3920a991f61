"""Smoke tests of the performance benchmarks' tiny modes (functional only: no timing is asserted).

The scripts live in ``benchmarks/`` (not a package); they are imported from there as the scripts
import each other.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_gpu  # noqa: E402
import bench_scale  # noqa: E402
import bench_train  # noqa: E402


# ---------------------------------------------------------------- bench_train
def test_bench_train_smoke_pairs_every_loop_with_the_same_work():
    payload = bench_train.main(["--smoke"])
    names = [r["name"] for r in payload["records"]]
    assert names == [bench_train.CONTROL, *bench_train.TRAINER_VARIANTS]
    assert payload["setting"]["pairing"] == "step"
    # every loop trained on the same batches from the same weights as its minimal partner
    assert payload["same_work"]
    for r in payload["records"]:
        assert r["max_rel_loss_difference"] < 1e-4
        assert len(r["round_seconds"]) == len(r["minimal_round_seconds"]) == 2
        assert r["images_per_s"] > 0 and math.isfinite(r["ratio_vs_minimal"]) and r["ratio_vs_minimal"] > 0


def test_bench_train_round_pairing_and_casia_path_on_cpu():
    payload = bench_train.main(["--smoke", "--profile", "paper", "--data", "synthetic-casia", "--device", "cpu",
                                "--pairing", "round"])
    assert payload["setting"]["pairing"] == "round"
    assert payload["setting"]["data"].startswith("casia ")
    assert payload["same_work"]
    assert {r["name"] for r in payload["records"]} == {"minimal", *bench_train.TRAINER_VARIANTS}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without a GPU")
def test_bench_train_gpu_profile_without_gpu_says_so():
    with pytest.raises(SystemExit, match="no CUDA GPU"):
        bench_train.main(["--profile", "paper", "--data", "synthetic-casia", "--smoke"])


def test_paired_loader_runs_one_partner_step_per_batch():
    class Partner:
        def __init__(self):
            self.calls = []

        def begin(self, epoch):
            self.calls.append(("begin", epoch))

        def step(self):
            self.calls.append("step")

    partner = Partner()
    wrapper = bench_train.PairedLoader([10, 20, 30], partner)
    wrapper.epoch = 4
    assert [b for _, b in zip(range(2), wrapper)] == [10, 20]
    assert partner.calls == [("begin", 4), "step", "step"]
    assert len(wrapper) == 3 and wrapper.partner_seconds >= 0


# ---------------------------------------------------------------- bench_scale
def test_profiled_peak_counts_the_bytes_live_at_once():
    def step():
        a = torch.ones(250_000)  # 1,000,000 bytes
        b = torch.ones(500_000)  # 2,000,000 bytes, both alive: peak 3,000,000
        del a, b
        c = torch.ones(100_000)  # after the frees: below the peak
        del c

    assert bench_scale.profiled_peak_bytes(step, []) == 3_000_000


def test_bench_scale_smoke(tmp_path):
    payload = bench_scale.main(["--smoke", "--heads", "bare", "arcface", "eqm"])
    heads, classes = payload["setting"]["heads"], payload["setting"]["classes"]
    assert len(payload["records"]) == len(heads) * len(classes)
    by = {(r["head"], r["C"]): r for r in payload["records"]}
    for head in heads:
        # more classes, more memory: the (N, C) logits and the (C, d) gradient grow with C
        assert by[(head, classes[-1])]["step_peak_mb"] > by[(head, classes[0])]["step_peak_mb"] > 0
        assert payload["fits"][head]["mb_per_1k_classes"] > 0
    assert payload["crosscheck"] and payload["crosscheck"][0]["rss_growth_mb"] >= 0
    text = bench_scale.render_markdown(payload)
    assert "EqM (reconstructed)" in text and "ResNet-18 reference" in text

    from fr_course.plots.performance import save_scale_figure

    png = save_scale_figure(payload, tmp_path / "scale.png")
    assert png.stat().st_size > 1000


def test_plot_scale_rejects_other_payloads():
    from fr_course.plots.performance import plot_scale

    with pytest.raises(ValueError, match="bench_scale"):
        plot_scale({"records": []})
    with pytest.raises(ValueError, match="time"):
        plot_scale({"setting": {}, "records": [{}], "model_reference": {}}, what="speed")


# ---------------------------------------------------------------- bench_gpu
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the skip without a GPU")
def test_bench_gpu_without_gpu_skips_cleanly(capsys):
    assert bench_gpu.main([]) is None
    assert "no CUDA GPU" in capsys.readouterr().err


def test_bench_gpu_cpu_only_in_smoke_mode():
    with pytest.raises(SystemExit):
        bench_gpu.main(["--device", "cpu"])


def test_bench_gpu_cpu_smoke_runs_every_path_but_compile():
    payload = bench_gpu.main(["--device", "cpu", "--smoke", "--models", "resnet18"])
    rows = payload["rows"]
    resident = {r["mode"] for r in rows if r["data"] == "resident"}
    assert resident == {"fp32", "bf16", "bf16+cl"}  # compile is left out on the CPU
    assert {r["mode"] for r in rows if r["data"] == "pipeline"} == resident
    # the trainer's two input paths, with the model and alone (decode_jpeg runs on the CPU here)
    assert {r["data"] for r in rows} >= {"pipeline, decode on device", "loader only", "loader only, decode on device"}
    for r in rows:
        assert r["images_per_s"] > 0 and r["casia_20_epochs_h"] > 0
        if not r["data"].startswith("loader only"):
            assert r["train_gflops_per_image"] > 0 and r["fraction_of_measured_matmul"] > 0
    fp32 = next(r for r in rows if r["data"] == "resident" and r["mode"] == "fp32")
    assert fp32["ratio_vs_fp32"] == pytest.approx(1.0)
    text = bench_gpu.render_markdown(payload)
    assert "| resnet18 | bf16 | resident |" in text and "on resident data" in text


def test_peak_table_by_device_name():
    assert bench_gpu.peak_bf16_tflops("NVIDIA H100 PCIe") == 756
    assert bench_gpu.peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989
    assert bench_gpu.peak_bf16_tflops("NVIDIA H200") == 989
    assert bench_gpu.peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312
    assert bench_gpu.peak_bf16_tflops("Tesla T4") is None


def test_gpu_index_placeholder_then_tables(tmp_path):
    text = bench_gpu.write_gpu_index(tmp_path).read_text()
    assert "not yet measured" in text and "python benchmarks/bench_gpu.py" in text
    (tmp_path / "gpu-nvidia-h100.md").write_text("# gpu-nvidia-h100\n\nCommand: `x`\n\n| a |\n|---|\n| 1 |\n")
    text = bench_gpu.write_gpu_index(tmp_path).read_text()
    assert "not yet measured" not in text
    assert "### gpu-nvidia-h100" in text and "| 1 |" in text
    assert not any(line.startswith("# ") for line in text.splitlines())
