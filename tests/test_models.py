import pytest
import torch

from shieldkit.errors import DuplicateNameError, UnknownNameError
from shieldkit.models import MODELS, create_model, list_models, register_model


@pytest.mark.parametrize("name", ["resnet8", "resnet20", "cnn3", "mobilenetv2", "shufflenetv2", "wrn-16-4"])
def test_registered_models_give_one_logit_per_class(name):
    m = create_model(name, num_classes=7).eval()
    with torch.no_grad():
        assert m(torch.rand(2, 3, 32, 32)).shape == (2, 7)


def test_torchvision_models_by_name():
    m = create_model("tv:resnet18", num_classes=5).eval()
    with torch.no_grad():
        assert m(torch.rand(1, 3, 32, 32)).shape == (1, 5)
    with pytest.raises(UnknownNameError, match="tv:resnet50"):
        create_model("tv:not_a_model")


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownNameError) as e:
        create_model("resnet9000")
    assert "resnet8" in str(e.value) and "wrn-34-10" in str(e.value)
    assert {"resnet18", "resnet34", "mobilenetv2", "shufflenetv2", "wrn-34-10"} <= set(list_models())


def test_duplicate_registration_raises():
    with pytest.raises(DuplicateNameError, match="already registered"):
        register_model("resnet8")(lambda **kw: None)
    assert "resnet8" in MODELS


def test_normalisation_lives_inside_the_model():
    mean, std = (0.2, 0.3, 0.4), (0.5, 0.6, 0.7)
    m = create_model("resnet8", 10, mean=mean, std=std).eval()
    x = torch.rand(2, 3, 32, 32)
    expected = m.net((x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1))
    with torch.no_grad():
        assert torch.allclose(m(x), expected, atol=1e-6)
    assert {"mean", "std"} <= set(m.state_dict())
    assert m.spec()["mean"] == pytest.approx(list(mean))
