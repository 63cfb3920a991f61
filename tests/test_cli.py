"""``python -m fr_course``: train -> summary line, eval of the checkpoint, the loss list, and one-line
errors with exit status 2 for wrong names and values."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from fr_course import losses
from fr_course.cli import main


def run(capsys, *argv):
    """Exit status, stdout and stderr of ``python -m fr_course *argv``, run in-process."""
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_losses_lists_every_loss_with_its_defaults(capsys):
    status, out, _ = run(capsys, "losses")
    assert status == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line[0].isspace()}
    assert set(losses.LOSSES) <= set(rows)
    for name in ("eqm", "hsm"):
        assert "(reconstructed)" in rows[name]
    assert "s=64.0, m=0.5, easy_margin=False, grad='exact'" in out  # arcface's defaults (losses.md)
    assert "alpha=1.5, beta=1.1, A=35.0, B=0.75, form='eq4'" in out  # hard_mining's


@pytest.mark.parametrize("argv, words", [
    (["train", "--loss", "arcfase"], ["unknown loss 'arcfase'", "arcface"]),
    (["train", "--loss", "arcface", "--set", "epoch=3"], ["unknown config key 'epoch'", "epochs"]),
    (["train", "--loss", "arcface", "--set", "lr=fast"], ["bad value for lr", "'fast'"]),
    (["train", "--loss", "cosface", "--set", "loss.margin=0.2"], ["'cosface' has no hyper-parameter 'margin'"]),
    (["train", "--loss", "arcface", "--profile", "fast"], ["invalid choice: 'fast'"]),
    (["train", "--loss", "arcface", "--epochs", "0"], ["epochs must be >= 1"]),
    (["train", "--loss", "arcface", "--profile", "paper", "--set", "loss.s=-1"], ["loss 'arcface'", "s must be > 0"]),
    (["train", "--loss", "arcface", "--data", "casia"], ["needs data_root"]),
    (["train"], ["--loss"]),
    (["eval", "--checkpoint", "{tmp}/nothing.pt"], ["no checkpoint at", "nothing.pt"]),
    (["train", "--loss", "arcface", "--resume", "--out", "{tmp}/new"], ["--resume: no checkpoint at", "new"]),
])
def test_wrong_names_and_values_give_one_line_and_status_2(capsys, tmp_path, argv, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and err.startswith("python -m fr_course")
    for word in words:
        assert word in err


def test_missing_casia_root_names_the_path_and_the_script(capsys, tmp_path):
    missing = tmp_path / "faces_webface_112x112"
    status, _, err = run(capsys, "train", "--loss", "arcface", "--profile", "paper", "--data-root", str(missing),
                         "--out", str(tmp_path / "run"))
    assert status == 2 and "Traceback" not in err
    assert str(missing) in err.splitlines()[0]
    assert "data_scripts/make_synthetic_casia.py" in err and "faces_webface_112x112" in err


def test_train_prints_the_summary_line_and_eval_reproduces_it(capsys, tmp_path):
    out = tmp_path / "cosface"
    status, stdout, _ = run(capsys, "train", "--loss", "cosface", "--profile", "smoke", "--out", str(out),
                            "--seed", "3", "--set", "loss.m=0.2")
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["seed"] == 3 and results["config"]["loss_kwargs"] == {"m": 0.2}
    (name, entry), = results["verification"].items()
    summary = stdout.strip().splitlines()[-1]
    pattern = (rf"cosface smoke: {name} 10-fold accuracy (\d+\.\d\d ± \d+\.\d\d) % "
               rf"\(flip-fused, squared-L2, LFW protocol\) — results in (.+)$")
    match = re.match(pattern, summary)
    assert match, summary
    assert match.group(1) == entry["accuracy_pct"] and match.group(2) == str(out / "results.json")

    # eval recomputes the accuracy from the checkpoint alone: it must equal the training-time number.
    status, stdout, _ = run(capsys, "eval", "--checkpoint", str(out))
    assert status == 0 and stdout.strip() == f"{name}: {entry['accuracy_pct']}"
    status, stdout, _ = run(capsys, "eval", "--checkpoint", str(out / "checkpoint.pt"), "--pairs", name, "--no-flip")
    assert status == 0 and re.fullmatch(rf"{name}: \d+\.\d\d ± \d+\.\d\d", stdout.strip())
    status, _, err = run(capsys, "eval", "--checkpoint", str(out), "--pairs", "lfw")
    assert status == 2 and "'lfw' is neither a file nor a folder nor one of the run's pair sets" in err

    # A second train into the same folder must not silently overwrite it.
    status, _, err = run(capsys, "train", "--loss", "cosface", "--profile", "smoke", "--out", str(out))
    assert status == 2 and "already holds a checkpoint" in err


def test_python_dash_m_entry_point():
    """``python -m fr_course`` reaches the CLI and keeps its exit status (one interpreter start)."""
    done = subprocess.run([sys.executable, "-m", "fr_course", "train", "--loss", "nope"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown loss 'nope'" in done.stderr
