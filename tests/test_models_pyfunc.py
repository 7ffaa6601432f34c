"""Custom Python models (the pyfunc flavor) and PyTorch modules (where torch is installed)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import nbtrack
from _models_helpers import forget_user_module, iris, write_user_module
from nbtrack.exceptions import InvalidInputError
from nbtrack.models import ModelFormatError, UnsafeModelError

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(
    not HAS_TORCH, reason="PyTorch is optional and not installed here (pip install torch)"
)


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[ModuleType]:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    module = write_user_module(code_dir)
    yield module
    forget_user_module(module, code_dir)


def test_a_user_class_with_state_round_trips(tmp_path: Path, user_module: ModuleType) -> None:
    X, _ = iris()
    model = user_module.Threshold(5.5)
    meta = nbtrack.pyfunc.save_model(model, tmp_path / "m", input_example=X[:5])
    assert meta.flavor_conf["class"] == f"{user_module.__name__}:Threshold"
    loaded = nbtrack.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    native = loaded.unwrap_python_model()
    assert type(native) is user_module.Threshold
    assert (native.threshold, native.labels) == (5.5, [0, 1])
    assert meta.signature is not None
    assert meta.signature.outputs is None  # pyfunc outputs are not inferred


def test_mlflows_context_shape_and_artifacts(tmp_path: Path, user_module: ModuleType) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"factor": 3}))
    with nbtrack.start_run():
        info = nbtrack.pyfunc.log_model(
            user_module.ScaledFromArtifact(), "scaled", artifacts={"config": config}
        )
    config.write_text(json.dumps({"factor": 100}))  # the model keeps its own copy
    loaded = nbtrack.pyfunc.load_model(info.model_uri)
    np.testing.assert_allclose(loaded.predict(np.array([[1.0, 2.0], [3.0, 4.0]])), [9.0, 21.0])
    assert loaded.unwrap_python_model().factor == 3
    files = nbtrack.TrackingClient().list_artifacts(info.run_id, "scaled/artifacts/config")
    assert [f.path for f in files] == ["scaled/artifacts/config/config.json"]


def test_untrusted_state_and_unimportable_classes_are_refused(
    tmp_path: Path, user_module: ModuleType
) -> None:
    nbtrack.pyfunc.save_model(user_module.Opaque(), tmp_path / "opaque")
    helper = f"{user_module.__name__}.Helper"
    with pytest.raises(UnsafeModelError, match=helper):
        nbtrack.pyfunc.load_model(tmp_path / "opaque")
    loaded = nbtrack.pyfunc.load_model(tmp_path / "opaque", trusted_types=[helper])
    assert loaded.predict(np.zeros((2, 1))).tolist() == [0.0, 0.0]

    class Local:
        def predict(self, model_input: object) -> list[int]:
            return [1]

    with pytest.raises(InvalidInputError, match=r"defined in a function.*serialization='pickle'"):
        nbtrack.pyfunc.save_model(Local(), tmp_path / "local", serialization="skops")
    # without serialization= it is pickled, as MLflow does (loading then needs the opt-in)
    assert nbtrack.pyfunc.save_model(Local(), tmp_path / "pickled").serialization == "cloudpickle"
    with pytest.raises(UnsafeModelError, match="allow_pickle=True"):
        nbtrack.pyfunc.load_model(tmp_path / "pickled")
    assert nbtrack.pyfunc.load_model(tmp_path / "pickled", allow_pickle=True).predict([0]) == [1]
    with pytest.raises(InvalidInputError, match="object with a predict"):
        nbtrack.pyfunc.save_model(object(), tmp_path / "nothing")
    with pytest.raises(InvalidInputError, match="a class: pass an instance"):
        nbtrack.pyfunc.save_model(user_module.Threshold, tmp_path / "cls")


def test_a_class_that_disappeared_is_a_clear_error(tmp_path: Path, user_module: ModuleType) -> None:
    nbtrack.pyfunc.save_model(user_module.Threshold(1.0), tmp_path / "m")
    forget_user_module(user_module, tmp_path / "code")
    (tmp_path / "code" / f"{user_module.__name__}.py").unlink()
    with pytest.raises(ModelFormatError, match="cannot import the PythonModel class"):
        nbtrack.pyfunc.load_model(tmp_path / "m")


def test_a_pytorch_model_without_torch_says_how_to_install_it(tmp_path: Path) -> None:
    if HAS_TORCH:
        pytest.skip("torch is installed: the flavor is tested for real below")
    from safetensors.numpy import save_file

    from nbtrack.models._format import write_model_files

    directory = tmp_path / "torch-model"
    directory.mkdir()
    save_file({"linear.weight": np.zeros((1, 4), dtype=np.float32)}, directory / "w.safetensors")
    write_model_files(
        directory,
        flavor="pytorch",
        serialization="safetensors",
        flavor_conf={"model_file": "w.safetensors", "class": "net:Net", "init_kwargs": {}},
        signature=None,
        input_example=None,
        distributions=["safetensors"],
    )
    with pytest.raises(ModelFormatError, match="needs PyTorch, which is not installed: pip"):
        nbtrack.pyfunc.load_model(directory)
    with pytest.raises(ModelFormatError, match="pip install torch"):
        nbtrack.pytorch.log_model(object(), "model")


TORCH_CODE = """
import torch


class Net(torch.nn.Module):
    def __init__(self, n_in, hidden):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 3)
        )

    def forward(self, x):
        return self.layers(x)
"""


@needs_torch
def test_pytorch_state_dict_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    (tmp_path / "torchnet.py").write_text(TORCH_CODE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import torchnet  # type: ignore[import-not-found]

    X, _ = iris()
    features = X.to_numpy(dtype=np.float32)
    net = torchnet.Net(4, 8)
    net.eval()
    meta = nbtrack.pytorch.save_model(
        net, tmp_path / "m", input_example=features[:4], init_kwargs={"n_in": 4, "hidden": 8}
    )
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert any(r.startswith("torch==") for r in meta.requirements)
    loaded = nbtrack.pyfunc.load_model(tmp_path / "m")
    with torch.no_grad():
        expected = net(torch.tensor(features)).numpy()
    np.testing.assert_allclose(loaded.predict(features), expected, rtol=1e-6)
    module = nbtrack.pytorch.load_model(str(tmp_path / "m"))
    assert isinstance(module, torchnet.Net)
    assert not module.training
