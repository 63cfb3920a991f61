"""EqM (reconstructed): the helpers behind chapter 6's figures and the threshold sweep
(fr_course.plots.eqm, benchmarks/bench_eqm_sweep.py), on synthetic records — no training."""

from __future__ import annotations

import json
import math
import pathlib
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from fr_course.plots import eqm as eqm_plots  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_gradient_map_is_exactly_zero_where_both_limits_hold_and_only_there():
    gmap = eqm_plots.eqm_gradient_map(t1=0.7, t2=0.1, s=16.0, points=81)
    cy, cj = np.meshgrid(gmap.cos_y, gmap.cos_j, indexing="xy")
    # off the threshold lines themselves (the kinks), zero gradient <=> both limits met
    clear = (np.abs(cy - 0.7) > 1e-9) & (np.abs(cj - 0.1) > 1e-9)
    both = (cy > 0.7) & (cj < 0.1)
    assert np.all(gmap.grad_norm[both & clear] == 0.0)
    assert np.all(gmap.grad_norm[~both & clear] > 0.0)
    # and the loss there is the offset floor log(1 + e^{-s(t1 - t2)})
    np.testing.assert_allclose(gmap.loss[both & clear], math.log1p(math.exp(-16.0 * 0.6)), rtol=1e-9)
    # the clipped sides: no derivative along the clipped coordinate
    assert np.all(gmap.grad_y[(cy > 0.7) & clear] == 0.0)
    assert np.all(gmap.grad_j[(cj < 0.1) & clear] == 0.0)


def test_gradient_map_defaults_follow_the_loss():
    from fr_course import losses

    defaults = losses.hyperparameters(losses.EqM)
    gmap = eqm_plots.eqm_gradient_map(points=11)
    assert (gmap.t1, gmap.t2) == (defaults["t1"], defaults["t2"])


def _records():
    out = []
    for t1, t2, base in ((0.5, -0.1, 0.80), (0.5, 0.1, 0.82), (0.9, 0.1, 0.85)):
        for seed, delta in ((0, 0.01), (1, -0.01)):
            out.append(dict(t1=t1, t2=t2, seed=seed, accuracy=base + delta, accuracy_std=0.02,
                            auc=0.9))
    return out


def test_sweep_grid_aggregates_over_seeds_in_percent():
    grid = eqm_plots.sweep_grid(_records())
    assert grid.t1 == (0.5, 0.9) and grid.t2 == (-0.1, 0.1)
    assert grid.accuracy[1, 1] == pytest.approx(85.0)
    assert grid.seed_std[1, 1] == pytest.approx(1.0)          # population std of 84 and 86
    assert grid.fold_std[0, 0] == pytest.approx(2.0)
    assert grid.seeds[1, 0] == 0 and math.isnan(grid.accuracy[1, 0])   # (0.9, -0.1) not run
    assert grid.best() == (0.9, 0.1)
    assert [(r["t1"], r["t2"]) for r in grid.rows()] == [(0.9, 0.1), (0.5, 0.1), (0.5, -0.1)]
    ax = eqm_plots.plot_sweep(grid, chosen=(0.9, 0.1))
    assert "std over seeds" in ax.get_title()


def test_load_sweep_names_the_command_when_the_file_is_missing(tmp_path):
    with pytest.raises(eqm_plots.SweepFileMissing, match="bench_eqm_sweep.py"):
        eqm_plots.load_sweep(tmp_path / "nope.json")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"records": []}))
    with pytest.raises(eqm_plots.SweepFileMissing, match="no records"):
        eqm_plots.load_sweep(empty)


def test_sweep_script_reads_the_chapter_setting_and_skips_invalid_pairs():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_eqm_sweep

    assert bench_eqm_sweep.chapter_imbalance() > 0
    assert bench_eqm_sweep.grid_pairs([0.3, 0.7], [0.1, 0.3, 0.5]) == [(0.3, 0.1), (0.7, 0.1), (0.7, 0.3),
                                                                        (0.7, 0.5)]
    requests = bench_eqm_sweep.requests_for([(0.7, 0.1)], 1, 2.0, None)
    assert requests == {(0.7, 0.1, 1): dict(loss="eqm", seed=1, loss_kwargs={"t1": 0.7, "t2": 0.1},
                                            synthetic_overrides={"imbalance": 2.0})}


def test_recorded_sweep_if_present_is_well_formed():
    path = ROOT / "benchmarks" / "results" / "eqm-sweep.json"
    if not path.is_file():
        pytest.skip("sweep not recorded in this checkout")
    payload = eqm_plots.load_sweep(path)
    assert payload["setting"]["loss"] == "eqm" and payload["records"]
    for record in payload["records"]:
        assert -1.0 <= record["t2"] < record["t1"] <= 1.0
        assert 0.0 < record["accuracy"] <= 1.0 and record["accuracy_std"] >= 0.0
