"""The check cells' tolerances (fr_course.notebooks.spread) and the cache key's view of the code."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from fr_course import experiments
from fr_course.notebooks import spread


def _run(config, accuracy, losses=(3.0, 2.0)):
    return SimpleNamespace(results={"config": config.to_dict()}, accuracy=accuracy, epoch_losses=list(losses))


@pytest.fixture
def record(tmp_path, monkeypatch):
    """A spread record of two configurations (arcface, cosface) over 3 seeds x 2 settings."""
    a = experiments.config_for("arcface")
    b = experiments.config_for("cosface")
    values_a = {"0/native": 0.88, "1/native": 0.89, "2/native": 0.87, "0/x": 0.885, "1/x": 0.875, "2/x": 0.89}
    values_b = {k: v - 0.02 for k, v in values_a.items()}
    values_b["1/x"] = values_a["1/x"] - 0.005

    def entry(label, values):
        acc = list(values.values())
        mean = sum(acc) / len(acc)
        return {"label": label, "n": len(acc), "seeds": [0, 1, 2], "isas": ["native", "x"], "mean": mean,
                "std": (sum((v - mean) ** 2 for v in acc) / len(acc)) ** 0.5, "min": min(acc), "max": max(acc),
                "values": values}

    path = tmp_path / "spread.json"
    path.write_text(json.dumps({"runs": {spread.spec_id(a): entry("arcface", values_a),
                                         spread.spec_id(b): entry("cosface", values_b)}}))
    monkeypatch.setattr(spread, "SPREAD_FILE", path)
    spread._record.cache_clear()
    yield a, b
    spread._record.cache_clear()


def test_spec_id_ignores_the_seed_only(record):
    a, _ = record
    assert spread.spec_id(a) == spread.spec_id(experiments.config_for("arcface", seed=7))
    assert spread.spec_id(a) != spread.spec_id(experiments.config_for("arcface", loss_kwargs={"m": 0.4}))


def test_check_runs_accepts_the_widened_range_and_prints_it(record, capsys):
    a, _ = record
    got = spread.spread_for(a)
    lo, hi = got.accepted
    margin = max(spread.FACTOR * got.std, spread.MIN_MARGIN)
    assert lo == pytest.approx(0.87 - margin) and hi == pytest.approx(0.89 + margin)
    spread.check_runs({"ArcFace": _run(a, 0.86)})
    out = capsys.readouterr().out
    assert out.startswith("ArcFace: measured 87.0–89.0 % in 6 runs (seeds 0, 1, 2; 2 instruction sets")
    with pytest.raises(AssertionError, match="outside the accepted"):
        spread.check_runs({"ArcFace": _run(a, lo - 0.001)})


def test_check_runs_fails_on_unknown_runs_and_bad_losses(record):
    a, _ = record
    with pytest.raises(AssertionError, match="no measured spread"):
        spread.check_runs({"x": _run(experiments.config_for("sface"), 0.8)})
    with pytest.raises(AssertionError, match="did not fall"):
        spread.check_runs({"ArcFace": _run(a, 0.88, losses=(2.0, 2.5))})
    with pytest.raises(AssertionError, match="non-finite"):
        spread.check_runs({"ArcFace": _run(a, 0.88, losses=(2.0, float("nan")))}, measured=False)


def test_paired_difference_and_resolution(record, capsys):
    a, b = record
    diff = spread.paired_difference(a, b, "ArcFace", "CosFace")
    assert diff.n == 6 and diff.min == pytest.approx(0.005) and diff.max == pytest.approx(0.02)
    assert diff.resolved and "resolved: ArcFace above CosFace in all 6 paired runs" in diff.describe()
    few = spread.PairedDifference("a", "b", 3, 0.01, 0.02, 0.004)
    assert few.same_sign and not few.resolved and "fewer than 5 were measured" in few.describe()
    runs = {"ArcFace": _run(a, 0.88), "CosFace": _run(b, 0.87)}
    spread.check_difference(runs, "ArcFace", "CosFace")
    assert "ArcFace − CosFace: +0.5 to +2.0 points" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="outside the accepted"):
        spread.check_difference({"ArcFace": _run(a, 0.80), "CosFace": _run(b, 0.88)}, "ArcFace", "CosFace")
    unresolved = spread.PairedDifference("a", "b", 6, -0.01, 0.02, 0.01)
    assert not unresolved.resolved and "not resolved at this scale" in unresolved.describe()


def test_missing_record_names_the_script(tmp_path, monkeypatch):
    monkeypatch.setattr(spread, "SPREAD_FILE", tmp_path / "nothing.json")
    spread._record.cache_clear()
    with pytest.raises(FileNotFoundError, match="bench_spread.py"):
        spread.spread_for(experiments.config_for("arcface"))
    spread._record.cache_clear()


def test_the_recorded_spread_covers_every_chapter_run():
    """The committed record knows every run bench_spread.py lists, for the current code and profile."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_spread

    spread._record.cache_clear()
    known = spread._record()["runs"]
    missing = [name for name, spec in bench_spread.RUNS.items()
               if spread.spec_id(experiments.config_for(**bench_spread.request(spec, 0))) not in known]
    assert not missing, f"spread.json lacks {missing}: re-run benchmarks/bench_spread.py"


# ----------------------------------------------------------------------------- the cache key

def test_code_fingerprint_ignores_docstrings_and_comments(tmp_path):
    one = tmp_path / "one.py"
    two = tmp_path / "two.py"
    one.write_text(textwrap.dedent('''\
        """Module doc."""
        def f(x):
            """Doc."""
            return x + 1  # a comment
        '''))
    two.write_text(textwrap.dedent('''\
        """Another module doc, reworded."""
        def f(x):
            # why, not what
            return x + 1
        '''))
    assert experiments._code_fingerprint(one) == experiments._code_fingerprint(two)
    two.write_text("def f(x):\n    return x + 2\n")
    assert experiments._code_fingerprint(one) != experiments._code_fingerprint(two)


def test_a_run_key_depends_on_its_own_loss_module_and_the_isa(monkeypatch):
    arc = experiments.config_for("arcface")
    hm = experiments.config_for("hard_mining", loss_kwargs={"base": "arcface"})
    assert experiments._loss_modules(arc) == {"arcface.py"}
    assert experiments._loss_modules(hm) == {"hard_mining.py", "arcface.py"}
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    native = experiments.cache_key(arc)
    assert experiments.isa_setting() == "native"
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    assert experiments.isa_setting() == "aten=default" and experiments.cache_key(arc) != native
