"""The public API of fr_course.losses and its degenerate cases (spec/losses.md, test 5):
registry and build(), validation messages, reductions to NormFace, the Hard-Mining limits,
SphereFace's counter and state_dict, describe()."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest
import torch

from fr_course import losses

D, C = 6, 5
COUNTS = [10, 20, 30, 40, 50]
NAMES = ["softmax", "normface", "sphereface", "cosface", "arcface", "combined", "eqm", "hsm",
         "sv_softmax", "sface", "hard_mining"]


def batch(n=9, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g) * scale, torch.randint(0, C, (n,), generator=g)


def build(name, **hp):
    if name == "hsm":
        hp.setdefault("class_counts", COUNTS)
    torch.manual_seed(0)  # deterministic prototypes
    return losses.build(name, embedding_dim=D, num_classes=C, **hp)


def same_weights(*heads):
    for head in heads[1:]:
        with torch.no_grad():
            head.weight.copy_(heads[0].weight)
    return heads


# ----------------------------------------------------------------------------- registry and API

def test_registry_has_every_loss_in_chapter_order():
    assert list(losses.LOSSES) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_head_interface(name):
    head = build(name).eval()  # eval: SphereFace's λ must not move between the calls below
    assert isinstance(head, torch.nn.Module) and isinstance(head, losses.LOSSES[name])
    assert isinstance(head.weight, torch.nn.Parameter) and head.weight.shape == (C, D)
    x, y = batch()
    per_sample = head.per_sample(x, y)
    assert per_sample.shape == (len(y),) and per_sample.dtype == torch.float32
    loss = head(x, y)
    assert loss.ndim == 0
    torch.testing.assert_close(loss, per_sample.mean())
    if name == "sface":
        with pytest.raises(NotImplementedError):
            head.logits(x, y)
    else:
        assert head.logits(x, y).shape == (len(y), C)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("sface", "hard_mining")])
def test_per_sample_is_cross_entropy_of_logits(name):
    head = build(name).eval()
    x, y = batch()
    ce = torch.nn.functional.cross_entropy(head.logits(x, y), y, reduction="none")
    torch.testing.assert_close(head.per_sample(x, y), ce)


def test_repr_shows_hyperparameters():
    assert repr(build("arcface", m=0.3)) == (
        f"ArcFace(embedding_dim={D}, num_classes={C}, s=64.0, m=0.3, easy_margin=False, grad='exact')")


def test_softmax_has_a_bias():
    head = build("softmax")
    assert head.bias.shape == (C,)
    x, y = batch()
    with torch.no_grad():
        head.bias.copy_(torch.arange(C, dtype=torch.float32))
    torch.testing.assert_close(head.logits(x, y), x @ head.weight.T + torch.arange(C))


def test_weight_init_is_normal_001():
    w = losses.build("arcface", 64, 2000).weight.detach()
    assert abs(w.mean()) < 1e-3 and w.std().item() == pytest.approx(0.01, rel=0.02)


def test_hard_mining_weight_and_state_are_the_base_ones():
    head = build("hard_mining", base="sphereface")
    assert head.weight is head.base.weight
    keys = set(head.state_dict())
    assert {"base.weight", "base.iteration"} <= keys
    assert [p for p in head.parameters()] == [head.base.weight]


# ----------------------------------------------------------------------------- degenerate cases

@pytest.mark.parametrize("name,hp", [
    ("cosface", {"m": 0.0}),
    ("arcface", {"m": 0.0}),
    ("arcface", {"m": 0.0, "grad": "ste"}),
    ("arcface", {"m": 0.0, "easy_margin": True}),
    ("combined", {"m1": 1.0, "m2": 0.0, "m3": 0.0}),
    ("sv_softmax", {"m": 0.0, "t": 1.0, "s": 64.0}),
    ("sv_softmax", {"m": 0.0, "t": 1.0, "s": 64.0, "margin_type": "arc", "form": "fixed"}),
    ("eqm", {"t1": 1.0, "t2": -1.0}),
    ("hsm", {"m_max": 0.0, "m_p": 0.0}),
])
def test_zero_margin_reduces_to_normface(name, hp):
    head, normface = same_weights(build(name, **hp), build("normface"))
    x, y = batch(n=16)
    torch.testing.assert_close(head.per_sample(x, y), normface.per_sample(x, y), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("margin_type,other,other_hp", [
    ("am", "cosface", {}),
    ("arc", "arcface", {}),
])
def test_sv_softmax_with_t1_is_the_margin_loss(margin_type, other, other_hp):
    sv, plain = same_weights(build("sv_softmax", t=1.0, m=0.3, s=30.0, margin_type=margin_type),
                             build(other, m=0.3, s=30.0))
    x, y = batch(n=16)
    torch.testing.assert_close(sv.per_sample(x, y), plain.per_sample(x, y), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("form,factor", [("eq4", 1.5), ("alg1", 1.5 * 1.1)])
@pytest.mark.parametrize("base", ["softmax", "arcface", "sface", "sphereface"])
def test_hard_mining_with_open_gate_is_a_scaled_base(base, form, factor):
    head = build("hard_mining", base=base, A=1e6, B=0.0, form=form).eval()
    plain = build(base).eval()
    same_weights(head.base, plain)
    x, y = batch(n=16)
    expected = plain.per_sample(x, y)
    if base == "sface":  # SFace losses can be negative; there the open gate σ(βL) is shut
        assert (expected > 1e-3).any() and (expected < -1e-3).any()
        expected = torch.where(expected > 0, expected, 0.0)
    else:
        assert (expected > 1e-3).all()
    torch.testing.assert_close(head.per_sample(x, y), factor * expected)


def test_hard_mining_with_shut_gate_is_zero():
    head = build("hard_mining", A=1e6, B=1e3).eval()
    x, y = batch()
    assert head(x, y).item() == 0.0


def test_hard_mining_over_eqm_is_the_mean_of_the_gated_losses():
    head = build("hard_mining", base="eqm", base_kwargs={"s": 8.0}, A=1e6, B=0.0)
    x, y = batch()
    assert head.batch_term(y) is None  # EqM (reconstructed) has no batch-level term any more
    torch.testing.assert_close(head(x, y), head.per_sample(x, y).mean())


# ----------------------------------------------------------------------------- SphereFace state

def test_sphereface_counter_advances_only_in_training():
    head = build("sphereface")
    x, y = batch()
    assert head.iteration.item() == 0 and head.iteration.dtype == torch.long
    head(x, y)
    head.per_sample(x, y)
    assert head.iteration.item() == 2
    head.logits(x, y)  # logits never advance it
    head.eval()
    head(x, y)
    head.per_sample(x, y)
    assert head.iteration.item() == 2


def test_sphereface_counter_state_dict_round_trip():
    head = build("sphereface")
    x, y = batch()
    for _ in range(7):
        head(x, y)
    state = head.state_dict()
    assert state["iteration"].item() == 7
    fresh = build("sphereface")
    fresh.load_state_dict(state)
    assert fresh.iteration.item() == 7
    assert fresh.current_lambda().item() == pytest.approx(1000.0 / (1 + 0.12 * 7))
    fresh.eval(), head.eval()
    torch.testing.assert_close(fresh.per_sample(x, y), head.per_sample(x, y))


def test_sphereface_counter_advances_through_hard_mining():
    head = build("hard_mining", base="sphereface")
    x, y = batch()
    head(x, y)
    head(x, y)
    assert head.state_dict()["base.iteration"].item() == 2
    head.eval()
    head(x, y)
    assert head.base.iteration.item() == 2


# ----------------------------------------------------------------------------- validation

BAD_HPARAMS = [
    ("normface", {"s": 0.0}, "s"),
    ("cosface", {"s": -1.0}, "s"),
    ("arcface", {"s": float("nan")}, "s"),
    ("cosface", {"m": -0.1}, "m"),
    ("arcface", {"m": -0.5}, "m"),
    ("arcface", {"grad": "straight"}, "grad"),
    ("arcface", {"easy_margin": "yes"}, "easy_margin"),
    ("sphereface", {"m": 0}, "m"),
    ("sphereface", {"m": 2.5}, "m"),
    ("sphereface", {"lambda_min": -1.0}, "lambda_min"),
    ("combined", {"m2": -0.1}, "m2"),
    ("combined", {"m1": 0.0}, "m1"),
    ("sv_softmax", {"t": 0.9}, "t"),
    ("sv_softmax", {"m": -0.1}, "m"),
    ("sv_softmax", {"form": "soft"}, "form"),
    ("sv_softmax", {"margin_type": "cos"}, "margin_type"),
    ("sface", {"k": 0.0}, "k"),
    ("sface", {"s": -3.0}, "s"),
    ("hsm", {"class_counts": [1, 2, 3]}, "class_counts"),
    ("hsm", {"class_counts": [1, 2, 0, 4, 5]}, "class_counts"),
    ("hsm", {"class_counts": [1, 2, -3, 4, 5]}, "class_counts"),
    ("hsm", {"class_counts": [[1, 2, 3, 4, 5]]}, "class_counts"),
    ("hsm", {"class_counts": COUNTS, "tau": 1.5}, "tau"),
    ("eqm", {"t1": 1.5}, "t1"),
    ("eqm", {"t2": -1.2}, "t2"),
    ("eqm", {"t1": 0.3, "t2": 0.3}, "t2"),
    ("eqm", {"t1": 0.2, "t2": 0.5}, "t1"),
    ("eqm", {"s": 0.0}, "s"),
    ("hard_mining", {"base": "hard_mining"}, "base"),
    ("hard_mining", {"base": "nope"}, "base"),
    ("hard_mining", {"alpha": 0.0}, "alpha"),
    ("hard_mining", {"form": "eq5"}, "form"),
    ("hard_mining", {"base_kwargs": {"s": -1.0}, "base": "arcface"}, "s"),
]


@pytest.mark.parametrize("name,hp,param", BAD_HPARAMS, ids=str)
def test_invalid_values_name_the_parameter(name, hp, param):
    with pytest.raises(ValueError, match=rf"\b{re.escape(param)}\b"):
        losses.build(name, D, C, **hp)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        losses.build("arcfce", D, C)
    assert "arcfce" in str(err.value) and all(name in str(err.value) for name in NAMES)


def test_unknown_hparam_lists_valid_ones():
    with pytest.raises(TypeError) as err:
        losses.build("arcface", D, C, margin=0.5)
    message = str(err.value)
    assert "margin" in message and all(p in message for p in ("s", "m", "easy_margin", "grad"))
    with pytest.raises(TypeError, match="lambda_base"):
        losses.build("hard_mining", D, C, base="sphereface", base_kwargs={"lambda": 1.0})


def test_hsm_requires_class_counts():
    with pytest.raises(TypeError, match="class_counts"):
        losses.build("hsm", D, C)


@pytest.mark.parametrize("name", ["arcface", "softmax", "hard_mining", "sface"])
def test_bad_batches_are_rejected(name):
    head = build(name)
    x, y = batch()
    with pytest.raises(ValueError, match="labels"):
        head(x, torch.full_like(y, C))
    with pytest.raises(ValueError, match="labels"):
        head(x, torch.full_like(y, -1))
    with pytest.raises(ValueError, match="labels"):
        head(x, y.float())
    with pytest.raises(ValueError, match="labels"):
        head(x, y[:-1])
    with pytest.raises(ValueError, match="embeddings"):
        head(x[:, :-1], y)
    with pytest.raises(ValueError, match="embeddings"):
        head(x.long(), y)
    with pytest.raises(ValueError, match="labels"):
        head.logits(x, y + C) if name != "sface" else head.per_sample(x, y + C)


@pytest.mark.parametrize("param,value", [("embedding_dim", 0), ("num_classes", -2), ("num_classes", 3.0)])
def test_bad_sizes(param, value):
    kwargs = {"embedding_dim": D, "num_classes": C, param: value}
    with pytest.raises(ValueError, match=param):
        losses.build("cosface", **kwargs)


# ----------------------------------------------------------------------------- describe()

def test_describe_reads_the_signatures():
    table = losses.describe()
    assert [info.name for info in table] == NAMES
    by_name = {info.name: info for info in table}
    assert by_name["arcface"].hparams == {"s": 64.0, "m": 0.5, "easy_margin": False, "grad": "exact"}
    assert by_name["sphereface"].hparams == {"m": 4, "lambda_base": 1000.0, "lambda_gamma": 0.12,
                                            "lambda_power": 1.0, "lambda_min": 5.0}
    assert by_name["sv_softmax"].hparams == {"s": 32.0, "m": 0.35, "t": 1.2, "margin_type": "am",
                                            "form": "adaptive"}
    assert by_name["sface"].hparams == {"s": 64.0, "k": 80.0, "a": 0.87, "b": 1.2}
    assert dict(by_name["hard_mining"].hparams, base_kwargs={}) == {
        "base": "softmax", "base_kwargs": {}, "alpha": 1.5, "beta": 1.1, "A": 35.0, "B": 0.75, "form": "eq4"}
    assert by_name["hsm"].hparams["class_counts"] is losses.REQUIRED
    assert by_name["eqm"].hparams == {"s": 64.0, "t1": 0.7, "t2": 0.1}
    assert by_name["combined"].hparams == {"s": 64.0, "m1": 1.0, "m2": 0.3, "m3": 0.2}
    for name in ("eqm", "hsm"):
        assert "(reconstructed)" in by_name[name].summary
        assert "reconstructed" in by_name[name].paper
        assert "(reconstructed)" in inspect.getdoc(losses.LOSSES[name]).splitlines()[0]
    for name in set(NAMES) - {"eqm", "hsm"}:
        assert "reconstructed" not in by_name[name].summary + by_name[name].paper


@pytest.mark.parametrize("name", NAMES)
def test_docstrings_give_formula_paper_detached_and_hparams(name):
    doc = inspect.getdoc(losses.LOSSES[name])
    assert re.search(r"Papers?:", doc) and "Detached" in doc and "Formula" in doc
    for param in losses.hyperparameters(losses.LOSSES[name]):
        assert f"``{param}``" in doc, f"{name}: hyper-parameter {param} undocumented"


def test_describe_prints_from_the_command_line():
    code = "from fr_course import losses; print(losses.describe())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    for name in NAMES:
        assert re.search(rf"^{name}\s", out.stdout, flags=re.M)
    assert "HSM (reconstructed)" in out.stdout and "EqM (reconstructed)" in out.stdout
    assert "class_counts=<required>" in out.stdout and "s=64.0" in out.stdout
