"""Tests of fr_course.models: registry, shapes, cost against the docstrings and reference.md, training."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock

from fr_course import models
from fr_course.models import build, complexity
from fr_course.models.iresnet import IRBlock

NAMES = ["resnet18", "iresnet18"]

# /work/shared/spec/reference.md, "Backbone cost": GMACs at 112×112 (d = 512, width 64)
REFERENCE_GMACS = {"resnet18": 1.72, "iresnet18": 2.61}
REFERENCE_MPARAMS = {"iresnet18": 24.0}


@pytest.fixture(autouse=True)
def one_thread():
    """These networks are tiny: a second OpenMP thread buys nothing and, on a loaded 2-core
    machine, its barriers can make a 0.3 s test take 20 s."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def full_models():
    torch.manual_seed(0)
    return {name: build(name) for name in NAMES}


def _docstring_cost(name):
    """'X GMACs and Y M parameters' as written in the model module's docstring."""
    module = {"resnet18": models.resnet, "iresnet18": models.iresnet}[name]
    found = re.search(r"([\d.]+) GMACs and ([\d.]+) M parameters", module.__doc__)
    assert found, f"{name}: docstring does not state its cost"
    return float(found.group(1)) * 1e9, float(found.group(2)) * 1e6


def _hooked_macs(model, size):
    """Independent count: C_in/groups · k_h · k_w MACs per conv output element, in·out per Linear row."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output[0].numel() * module.in_channels // module.groups * kh * kw
        else:
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, *size))
    for handle in handles:
        handle.remove()
    return total


# ----------------------------------------------------------------------------- registry

def test_build_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="iresnet18, resnet18"):
        build("resnet50")
    with pytest.raises(ValueError, match="width, dropout"):
        build("resnet18", depth=34)
    for bad in ({"width": 0}, {"width": 8.0}, {"dropout": 1.0}, {"dropout": -0.1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            build("iresnet18", **bad)
    with pytest.raises(ValueError, match="embedding_dim"):
        build("resnet18", embedding_dim=0)
    with pytest.raises(ValueError, match="input_size"):
        build("resnet18", input_size=(112, 96, 3))


# ----------------------------------------------------------------------------- cost

@pytest.mark.parametrize("name", NAMES)
def test_measured_cost_matches_docstring_reference_and_independent_count(name, full_models):
    model = full_models[name]
    measured = complexity(model, 112)
    doc_macs, doc_params = _docstring_cost(name)
    assert measured["macs"] == pytest.approx(doc_macs, rel=0.02)
    assert measured["params"] == pytest.approx(doc_params, rel=0.02)
    assert measured["macs"] == pytest.approx(REFERENCE_GMACS[name] * 1e9, rel=0.02)
    if name in REFERENCE_MPARAMS:
        assert measured["params"] == pytest.approx(REFERENCE_MPARAMS[name] * 1e6, rel=0.02)
    assert measured["macs"] == _hooked_macs(model, (112, 112))
    # the head's Linear alone: 512·7·7 -> 512
    assert model.head.fc.in_features == 25088 and model.head.fc.out_features == 512


def test_complexity_restores_mode_and_running_stats(full_models):
    model = full_models["iresnet18"]
    model.train()
    before = model.head.bn.running_mean.clone()
    complexity(model, (112, 112))
    assert model.training and torch.equal(model.head.bn.running_mean, before)


# ----------------------------------------------------------------------------- topology

def test_resnet18_reuses_torchvision_blocks_with_face_stem(full_models):
    model = full_models["resnet18"]
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.MaxPool2d)
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8
    assert [layer[0].conv1.out_channels for layer in (model.layer1, model.layer2, model.layer3, model.layer4)] == \
        [64, 128, 256, 512]


def test_iresnet18_puts_the_stride_in_the_second_conv(full_models):
    model = full_models["iresnet18"]
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.prelu, nn.PReLU)
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        assert len(layer) == 2 and all(isinstance(block, IRBlock) for block in layer)
        first = layer[0]
        assert first.conv1.stride == (1, 1) and first.conv2.stride == (2, 2)
        assert first.downsample is not None and layer[1].downsample is None


def test_initialisation(full_models):
    """Kaiming-normal, fan-out: std = gain / sqrt(k·k·C_out); ReLU gain √2, PReLU(0.25) √(2 / 1.0625)."""
    for name, gain in (("resnet18", math.sqrt(2.0)), ("iresnet18", math.sqrt(2.0 / (1 + 0.25 ** 2)))):
        conv = full_models[name].layer4[1].conv2
        expected = gain / math.sqrt(9 * conv.out_channels)
        assert conv.weight.std().item() == pytest.approx(expected, rel=0.02)
        head = full_models[name].head
        assert torch.all(head.features.weight == 1) and not head.features.weight.requires_grad


# ----------------------------------------------------------------------------- forward

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size, feature", [(32, (2, 2)), (48, (3, 3)), (36, (3, 3)), ((112, 96), (7, 6))])
def test_output_shapes_at_small_and_rectangular_inputs(name, size, feature):
    torch.manual_seed(0)
    model = build(name, embedding_dim=24, input_size=size, width=8)
    hw = (size, size) if isinstance(size, int) else size
    out = model(torch.randn(3, 3, *hw))
    assert out.shape == (3, 24) and out.dtype == torch.float32
    assert model.head.feature_size == feature
    assert model.head.fc.in_features == 64 * feature[0] * feature[1]


def test_full_size_forward(full_models):
    for model in full_models.values():
        model.eval()
        with torch.no_grad():
            assert model(torch.randn(2, 3, 112, 112)).shape == (2, 512)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_input_size_is_a_clear_error(name):
    model = build(name, embedding_dim=8, input_size=32, width=4)
    with pytest.raises(ValueError, match="input_size"):
        model(torch.randn(2, 3, 48, 48))


@pytest.mark.parametrize("name", NAMES)
def test_eval_is_deterministic_and_batch_independent(name):
    torch.manual_seed(1)
    model = build(name, embedding_dim=16, input_size=32, width=8, dropout=0.5)
    x = torch.randn(4, 3, 32, 32)
    model.train()
    assert not torch.equal(model(x), model(x))  # dropout and batch statistics at work
    model.eval()
    with torch.no_grad():
        first, second = model(x), model(x)
        alone = model(x[2:3])
    assert torch.equal(first, second)
    torch.testing.assert_close(alone, first[2:3], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_gives_the_same_embeddings(name):
    torch.manual_seed(2)
    model = build(name, embedding_dim=16, input_size=32, width=8).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        reference = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, reference, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_models_train(name):
    """A few SGD steps on a tiny batch with a linear classifier lower the cross-entropy."""
    torch.manual_seed(3)
    model = build(name, embedding_dim=16, input_size=32, width=8)
    classifier = nn.Linear(16, 4)
    x = torch.randn(16, 3, 32, 32)
    y = torch.arange(16) % 4
    optimizer = torch.optim.SGD([*model.parameters(), *classifier.parameters()], lr=0.05, momentum=0.9)
    gamma = model.head.features.weight.clone()
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(classifier(model(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0]
    assert model.conv1.weight.grad.abs().sum() > 0  # gradients reach the stem
    assert torch.equal(model.head.features.weight, gamma)  # fixed γ stays fixed
