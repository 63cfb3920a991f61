"""Tests of fr_course.results: the paper's Table 1 as data, the results-file reader, the tables."""

from __future__ import annotations

import json

import pytest

from fr_course import results

# Table 1 of the Hard-Mining paper as quoted in shared/spec/reference.md (LFW, YTF in %).
SPEC_TABLE1 = {
    "CE": (95.35, 91.8), "HM-CE": (96.75, 93.1), "A-Softmax": (97.12, 93.9),
    "HM-A-Softmax": (97.3, 94.1), "ArcFace": (97.79, 94.54), "HM-ArcFace": (97.9, 94.67),
}


ACC = {"mean": 95.0, "std": 0.4}


def _record(**overrides):
    data = {
        "kind": results.RESULTS_KIND, "version": results.RESULTS_VERSION, "recipe": "paper",
        "commit": "abc1234", "hardware": "1x test GPU", "date": "2025-01-01", "protocol": "10-fold LFW",
        "rows": [
            {"method": "ArcFace", "lfw": {"mean": 97.8, "std": 0.62}, "agedb_30": {"mean": 88.5, "std": 1.25}},
            {"method": "CE", "lfw": {"mean": 95.0, "std": 0.5}},
        ],
    }
    data.update(overrides)
    return data


def _write(tmp_path, data):
    path = tmp_path / "table1.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_paper_table1_matches_the_published_numbers():
    table = results.paper_table1()
    assert list(table.rows) == list(SPEC_TABLE1)
    for method, (lfw, ytf) in SPEC_TABLE1.items():
        assert (table.rows[method]["lfw"].mean, table.rows[method]["ytf"].mean) == (lfw, ytf)
    assert table.benchmarks == ("lfw", "ytf")
    assert "arXiv:1908.09747" in table.citation and "Table 1" in table.citation
    assert set(results.TABLE1_METHODS) == set(SPEC_TABLE1)


def test_render_table_is_a_markdown_pipe_table():
    text = results.render_table(["A", "B"], [["x|y", "1"]])
    assert text.splitlines() == ["| A | B |", "| :-- | --: |", "| x\\|y | 1 |"]
    with pytest.raises(ValueError, match="2 cells"):
        results.render_table(["A", "B"], [["only one"]])
    with pytest.raises(ValueError, match="align"):
        results.render_table(["A"], [["x"]], align=["x"])


def test_table1_without_a_results_file_says_not_yet_run(tmp_path):
    text = results.table1_markdown(tmp_path / "absent.json")
    lines = text.splitlines()
    assert lines[0] == "| Method | LFW (paper) | YTF (paper) | LFW (ours) |"
    assert lines[2] == "| CE | 95.35 | 91.8 | not yet run |"
    assert text.count(results.NOT_YET_RUN) >= 6
    assert "{cite}`srivastava2020hardmining`" in text
    plain = results.table1_markdown(tmp_path / "absent.json", myst=False)
    assert "{cite}" not in plain and "Hard-Mining Loss based" in plain


def test_table1_with_a_results_file_shows_our_numbers_and_provenance(tmp_path):
    path = _write(tmp_path, _record())
    text = results.table1_markdown(path)
    lines = text.splitlines()
    assert lines[0] == "| Method | LFW (paper) | YTF (paper) | LFW (ours) | AgeDB-30 (ours) |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:8]}
    assert rows["ArcFace"] == "| ArcFace | 97.79 | 94.54 | 97.80 ± 0.62 | 88.50 ± 1.25 |"
    assert rows["CE"] == f"| CE | 95.35 | 91.8 | 95.00 ± 0.50 | {results.NOT_RUN} |"
    assert rows["HM-CE"].endswith(f"| {results.NOT_RUN} | {results.NOT_RUN} |")
    assert "commit abc1234" in text and "1x test GPU" in text and "10-fold LFW" in text
    assert results.NOT_YET_RUN not in text


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "other"}, "kind/version"),
        ({"commit": ""}, "'commit'"),
        ({"rows": []}, "'rows'"),
        ({"rows": [{"method": "NormFace", "lfw": ACC}]}, "NormFace"),
        ({"rows": [{"method": "CE", "lfw": 95.3}]}, "'mean' and 'std'"),
        ({"rows": [{"method": "CE", "lfw": {"mean": 0.953, "std": 0.01}}]}, "fraction"),
        ({"rows": [{"method": "CE", "lfw": {"mean": 101.0, "std": 0.1}}]}, r"\[0, 100\]"),
        ({"rows": [{"method": "CE", "lfw": {"mean": 95.0, "std": -1}}]}, "std"),
        ({"rows": [{"method": "CE", "lfw": {"mean": float("nan"), "std": 0.1}}]}, "finite"),
        ({"rows": [{"method": "CE", "megaface": ACC}]}, "megaface"),
        ({"rows": [{"method": "CE", "lfw": ACC}, {"method": "CE", "lfw": ACC}]}, "twice"),
        ({"rows": [{"method": "CE"}]}, "no benchmark"),
    ],
)
def test_malformed_results_files_are_refused_with_the_key_named(tmp_path, change, message):
    path = _write(tmp_path, _record(**change))
    with pytest.raises(results.ResultsFileError, match=message) as info:
        results.load_full_profile_results(path)
    assert str(path) in str(info.value)
    with pytest.raises(results.ResultsFileError):
        results.table1_markdown(path)  # a broken record is never rendered as "not yet run"


def test_unreadable_or_missing_files(tmp_path):
    with pytest.raises(results.ResultsFileError, match="not valid JSON"):
        results.load_full_profile_results(_write(tmp_path, "{oops"))
    with pytest.raises(FileNotFoundError, match="absent.json"):
        results.load_full_profile_results(tmp_path / "absent.json")


def test_relative_paths_resolve_from_the_repository_root():
    resolved = results.resolve_results_path(None)
    assert resolved.is_absolute()
    assert resolved.as_posix().endswith(results.DEFAULT_FULL_PROFILE_RESULTS.as_posix())
    assert (resolved.parents[2] / "fr_course" / "results.py").is_file()


# ------------------------------------------------------------------ loss-head speed benchmark

def _heads_payload(**extra):
    records = [
        {"name": "bare", "ms": 100.0, "ratio_vs_bare": 1.0, "peak_mb": 300.0},
        {"name": "arcface", "ms": 101.0, "ratio_vs_bare": 1.01, "ratio_vs_pml": 0.8, "peak_mb": 210.0},
        {"name": "eqm", "ms": 145.0, "ratio_vs_bare": 1.45},
        {"name": "cosface", "ms": 99.0, "ratio_vs_bare": 0.99, "ratio_vs_pml": 1.2, "peak_mb": 200.0},
        {"name": "pml_ArcFaceLoss", "ms": 128.0, "ratio_vs_bare": 1.28, "peak_mb": 309.0},
    ]
    return {"records": records, "targets": {"ratio_vs_bare": 1.15, "ratio_vs_pml": 1.0}, **extra}


def test_loss_heads_table_shows_a_dash_where_no_comparison_exists_and_says_why_a_head_misses():
    header, rows = results.loss_heads_table(_heads_payload())
    assert header[3] == "× its PML twin"
    table = {row[0]: row for row in rows}
    text = results.render_table(header, rows)
    assert "nan" not in text.lower() and "MISSED" not in text
    assert table["bare"][3] == results.NO_COMPARISON and table["bare"][5].startswith("reference")
    assert table["eqm"][3] == results.NO_COMPARISON and table["eqm"][4] == results.NO_COMPARISON
    assert table["eqm"][5] == "misses: 1.45× the bare step (at most 1.15× allowed)"
    assert table["arcface"][5] == "within 1.15× bare, faster than its twin"
    assert table["cosface"][5] == "misses: slower than pytorch-metric-learning's CosFaceLoss"
    assert table["pml_ArcFaceLoss"][5] == "reference: pytorch-metric-learning"


def test_loss_heads_markdown_renders_the_recorded_file(tmp_path):
    payload = _heads_payload(command="python benchmarks/bench_losses.py", date="2026-01-01 00:00 UTC",
                             commit="abc1234", machine={"cpu": "CPU", "logical_cpus": 2, "torch": "2.x",
                                                        "torch_threads": 2},
                             setting={"N": 512, "d": 512, "C": 10572, "dtype": "float32", "device": "cpu",
                                      "rounds": 15})
    path = tmp_path / "losses.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    text = results.loss_heads_markdown(path)
    assert "commit `abc1234`" in text and "C = 10,572" in text and "nan" not in text.lower()
    assert "| eqm | 145.0 | 1.450 | – | – | misses:" in text
    # the committed record renders too (the Performance page shows it)
    committed = results.loss_heads_markdown()
    assert "nan" not in committed.lower() and "| bare |" in committed
