"""KID feature extractors: the torch weights loader (a small network saved here, and a
torchvision Inception-v3 state_dict), the bundled YOLOX-nano backbone, and KID on real pictures."""

import glob
import os

import numpy as np
import pytest

from vpfilters.errors import FormatError, ModelError, ParameterError
from vpfilters.metrics.features import (
    OnnxBackboneFeatures,
    TorchFeatures,
    default_extractor,
    inception_v3_features,
    load_state_dict,
)
from vpfilters.metrics.kid import kid

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("cv2")


def _pictures(folder, pattern, n, size=None):
    files = sorted(glob.glob(os.path.join(folder, pattern)))[:n]
    if len(files) < n:
        pytest.skip(f"not enough pictures in {folder}")
    out = []
    for f in files:
        im = Image.open(f).convert("RGB")
        out.append(np.asarray(im.resize(size) if size else im))
    return out


@pytest.fixture(scope="module")
def kodak(shared_data):
    return _pictures(os.path.join(shared_data, "kodak24"), "*.png", 16)


@pytest.fixture(scope="module")
def cartoons(shared_data):
    return _pictures(os.path.join(shared_data, "cartoon_faces_dicebear", "*"), "*.png", 16)


# -- torch loader --------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
        self.bn = torch.nn.BatchNorm2d(8)
        self.head = torch.nn.Conv2d(8, 16, 3)

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.conv(x))))     # (N, 16, h, w): pooled by us


def _saved_tiny(path, wrap=None):
    torch.manual_seed(0)
    net = Tiny().eval()
    with torch.no_grad():  # non-trivial BN statistics, so that loading them matters
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
    sd = net.state_dict()
    if wrap == "module":
        sd = {"module." + k: v for k, v in sd.items()}
    elif wrap == "nested":
        sd = {"state_dict": sd, "epoch": 3}
    torch.save(sd, path)
    return net


@pytest.mark.parametrize("wrap", [None, "module", "nested"])
def test_torch_features_load_a_saved_network(tmp_path, kodak, wrap):
    path = tmp_path / "tiny.pth"
    net = _saved_tiny(path, wrap)
    ex = TorchFeatures(path, lambda sd: Tiny(), input_size=64, name="tiny")
    got = ex(kodak[:3])
    # the same pictures through the original object, preprocessed independently (PIL resize)
    x = np.stack([np.asarray(Image.fromarray(im).resize((64, 64), Image.BILINEAR,
                                                        reducing_gap=None)) for im in kodak[:3]])
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x = ((x / 255.0 - mean) / std).transpose(0, 3, 1, 2).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).mean(dim=(2, 3)).double().numpy()
    assert got.shape == (3, 16)
    # resampling differs slightly (OpenCV area vs PIL); features must agree closely
    np.testing.assert_allclose(got, ref, atol=0.05 * np.abs(ref).max())
    assert not ex.is_inception


def test_torch_loader_errors_are_clear(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_state_dict(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"this is not a torch file")
    with pytest.raises(ModelError, match="cannot read"):
        load_state_dict(bad)
    other = tmp_path / "other.pth"
    torch.save(torch.nn.Linear(3, 2).state_dict(), other)
    with pytest.raises(ModelError, match="do not fit"):
        TorchFeatures(other, lambda sd: Tiny())
    with pytest.raises(ModelError, match="not found"):
        inception_v3_features(tmp_path / "inception_v3_google.pth")
    with pytest.raises(ModelError):
        default_extractor(tmp_path / "nope.pth")


@pytest.fixture
def flush_denormals():
    # an untrained Inception's activations shrink to denormal floats, which are 5x slower
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)


def test_inception_v3_loading_from_a_torchvision_state_dict(tmp_path, kodak, cartoons,
                                                           flush_denormals):
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = tv.models.inception_v3(weights=None, aux_logits=True, init_weights=False,
                                 transform_input=True)
    path = tmp_path / "inception_v3_test.pth"
    torch.save(net.state_dict(), path)
    ex = inception_v3_features(path)
    assert ex.is_inception and "inception-v3" in ex.name
    # pictures already 299 x 299, so both sides see the same pixels
    pics = [np.asarray(Image.fromarray(kodak[0]).resize((299, 299)))]
    f = ex(pics)
    assert f.shape == (1, 2048) and np.isfinite(f).all()
    # the pool features are those of torchvision's own forward with fc removed
    net.eval().fc = torch.nn.Identity()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x = ((np.stack(pics) / 255.0 - mean) / std).transpose(0, 3, 1, 2).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(f, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    res = kid(kodak[:2], cartoons[:2], ex, subsets=1, subset_size=2)
    assert not res.indicative and res.extractor == ex.name


# -- ONNX backbone (the default) -----------------------------------------------------------------

@pytest.fixture(scope="module")
def backbone():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    return OnnxBackboneFeatures(threads=2)


def test_default_extractor_is_the_yolox_backbone(backbone, kodak):
    assert isinstance(default_extractor(threads=2), OnnxBackboneFeatures)
    f = backbone(kodak[:4])
    assert f.shape == (4, 256) and np.isfinite(f).all()
    np.testing.assert_allclose(backbone(kodak[:1]), f[:1])           # deterministic
    assert "indicative" in backbone.name and not backbone.is_inception
    assert np.abs(f[0] - f[1]).max() > 1e-3                          # pictures differ


def test_kid_with_the_backbone_separates_real_domains(backbone, kodak, cartoons):
    same = kid(kodak[:8], kodak[8:16], backbone, subsets=1, subset_size=8)
    diff = kid(kodak[:8], cartoons[:8], backbone, subsets=1, subset_size=8)
    assert same.indicative and diff.indicative and "yolox_nano" in diff.extractor
    assert diff.x100 > 5 * max(same.x100, 1e-3)


def test_backbone_errors(backbone, tmp_path):
    with pytest.raises(ParameterError):
        OnnxBackboneFeatures(layer="no-such-tensor")
    with pytest.raises(ModelError):
        OnnxBackboneFeatures(tmp_path / "missing.onnx", layer="x")
    with pytest.raises(FormatError):
        backbone([])
    with pytest.raises(FormatError):
        backbone([np.zeros((8, 8), np.uint8)])
