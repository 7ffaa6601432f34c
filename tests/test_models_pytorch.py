"""The pytorch flavor for real (skipped where PyTorch is not installed).

A user module of nn.Module classes is written to disk and imported, as a user
keeps model code next to the notebook; classes defined in a notebook come from
IPython's real shell.
"""

from __future__ import annotations

import importlib
import pickle
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

import torch

import nbtrack
from _models_helpers import iris
from nbtrack.exceptions import InvalidInputError
from nbtrack.models import ModelFormatError, SignatureError, UnsafeModelError
from nbtrack.models._format import read_metadata

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

NETS = """
import torch


class Net(torch.nn.Module):
    def __init__(self, n_in, hidden=8):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 3)
        )
        self.register_buffer("scale", torch.ones(n_in))

    def forward(self, x):
        return self.layers(x * self.scale)


class Tied(torch.nn.Module):
    '''An embedding whose output projection shares its weight (tied weights).'''

    def __init__(self, vocab=10, dim=4):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.out = torch.nn.Linear(dim, vocab, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, tokens):
        return self.out(self.embed(tokens))


class TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 2)
        self.b = torch.nn.Linear(4, 1)

    def forward(self, x):
        return {"a": self.a(x), "b": self.b(x)}
"""


def _write_module(directory: Path, code: str, name: str | None = None) -> ModuleType:
    name = name or f"nets_{uuid.uuid4().hex[:8]}"
    (directory / f"{name}.py").write_text(textwrap.dedent(code))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


@pytest.fixture
def nets(tmp_path: Path) -> Iterator[ModuleType]:
    """The NETS module, importable for the test's duration."""
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    sys.path.insert(0, str(code_dir))
    module = _write_module(code_dir, NETS)
    yield module
    sys.modules.pop(module.__name__, None)
    sys.path.remove(str(code_dir))


def _features() -> Any:
    X, _ = iris()
    return X.astype("float32")


def _forward(net: Any, x: Any) -> Any:
    with torch.no_grad():
        return net(torch.tensor(np.asarray(x))).numpy()


def _net(nets: ModuleType) -> Any:
    torch.manual_seed(0)
    net = nets.Net(4, hidden=6)
    net.scale.fill_(0.5)  # a buffer that differs from a fresh module's
    return net.eval()


def test_log_model_stores_a_state_dict_and_a_class_path(nets: ModuleType) -> None:
    net, X = _net(nets), _features()
    with nbtrack.start_run() as run:
        info = nbtrack.pytorch.log_model(
            net, "net", input_example=X[:3], init_kwargs={"n_in": 4, "hidden": 6}
        )
    files = {a.path for a in nbtrack.TrackingClient().list_artifacts(run.info.run_id, "net")}
    assert "net/model.safetensors" in files
    assert not any(f.endswith(".pkl") for f in files)  # nothing that unpickles
    conf = info.metadata.flavor_conf
    assert conf["class"] == f"{nets.__name__}:Net"
    assert conf["init_kwargs"] == {"n_in": 4, "hidden": 6}
    assert conf["torch_version"] == torch.__version__
    assert info.metadata.serialization == "safetensors"
    assert any(r.startswith("torch==") for r in info.metadata.requirements)
    assert info.signature is not None
    assert info.signature.outputs is not None

    module = nbtrack.pytorch.load_model(info.model_uri)
    assert type(module) is nets.Net
    assert not module.training
    for key, value in net.state_dict().items():
        assert torch.equal(module.state_dict()[key], value), key
    np.testing.assert_array_equal(_forward(module, X), _forward(net, X))


def test_pyfunc_loads_it_and_checks_the_signature(nets: ModuleType) -> None:
    net, X = _net(nets), _features()
    with nbtrack.start_run():
        info = nbtrack.pytorch.log_model(
            net,
            "net",
            input_example=X.to_numpy()[:3],
            init_kwargs={"n_in": 4, "hidden": 6},
            registered_model_name="iris-net",
        )
    assert info.registered_model_version is not None
    expected = _forward(net, X)
    for uri in (info.model_uri, "models:/iris-net/1"):
        loaded = nbtrack.pyfunc.load_model(uri)
        assert loaded.metadata.flavor == "pytorch"
        # pandas 3 gives read-only arrays: taken without a warning (warnings fail tests)
        np.testing.assert_array_equal(loaded.predict(X.to_numpy()), expected)
        np.testing.assert_array_equal(loaded.predict(X), expected)
    with pytest.raises(SignatureError):
        loaded.predict(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(SignatureError, match="float64, which cannot be safely converted"):
        loaded.predict(X.to_numpy(dtype="float64"))


def test_without_a_signature_float64_input_meets_float32_weights(
    nets: ModuleType, tmp_path: Path
) -> None:
    net, X = _net(nets), _features()
    nbtrack.pytorch.save_model(net, tmp_path / "m", init_kwargs={"n_in": 4, "hidden": 6})
    loaded = nbtrack.pyfunc.load_model(tmp_path / "m")
    assert loaded.metadata.signature is None
    np.testing.assert_allclose(
        loaded.predict(X.to_numpy(dtype="float64")), _forward(net, X), rtol=1e-6
    )


def test_tied_weights_and_dict_outputs_round_trip(nets: ModuleType, tmp_path: Path) -> None:
    torch.manual_seed(0)
    tied = nets.Tied()
    nbtrack.pytorch.save_model(tied, tmp_path / "tied")
    module = nbtrack.pytorch.load_model(tmp_path / "tied")
    assert module.out.weight is module.embed.weight  # still one parameter
    tokens = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        assert torch.equal(module(tokens), tied(tokens))

    heads = nets.TwoHeads()
    x = np.ones((2, 4), dtype=np.float32)
    nbtrack.pytorch.save_model(heads, tmp_path / "heads", input_example=x)
    loaded = nbtrack.pyfunc.load_model(tmp_path / "heads")
    assert loaded.metadata.signature is not None
    assert loaded.metadata.signature.outputs is None  # several outputs: inputs only
    out = loaded.predict(x)
    assert set(out) == {"a", "b"}
    assert out["a"].shape == (2, 2)
    assert out["b"].shape == (2, 1)


def test_a_bfloat16_model_keeps_its_dtype(nets: ModuleType, tmp_path: Path) -> None:
    net = _net(nets).to(torch.bfloat16)
    X = _features().to_numpy()
    meta = nbtrack.pytorch.save_model(
        net, tmp_path / "m", input_example=X[:2], init_kwargs={"n_in": 4, "hidden": 6}
    )
    assert meta.flavor_conf["dtype"] == "bfloat16"
    module = nbtrack.pytorch.load_model(tmp_path / "m")
    assert {p.dtype for p in module.parameters()} == {torch.bfloat16}
    out = nbtrack.pyfunc.load_model(tmp_path / "m").predict(X)  # float32 in, bfloat16 inside
    assert out.dtype == np.float32  # numpy has no bfloat16
    with torch.no_grad():
        expected = net(torch.tensor(X).to(torch.bfloat16)).float().numpy()
    np.testing.assert_array_equal(out, expected)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_a_module_on_any_device(nets: ModuleType, tmp_path: Path, device: str) -> None:
    """A module on the GPU saves (its example runs there) and loads on the CPU."""
    net = _net(nets).to(device)
    X = _features().to_numpy()
    nbtrack.pytorch.save_model(
        net, tmp_path / "m", input_example=X[:3], init_kwargs={"n_in": 4, "hidden": 6}
    )
    with torch.no_grad():
        expected = net(torch.tensor(X, device=device)).cpu().numpy()
    module = nbtrack.pytorch.load_model(tmp_path / "m")
    assert {p.device.type for p in module.parameters()} == {"cpu"}
    loaded = nbtrack.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-5, atol=1e-6)
    # moved back to the device, the module gets its input there
    on_device = loaded.unwrap_python_model().to(device)
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-5, atol=1e-6)
    assert next(on_device.parameters()).device.type == device

    tied = nets.Tied().to(device)
    nbtrack.pytorch.save_model(tied, tmp_path / "tied")
    back = nbtrack.pytorch.load_model(tmp_path / "tied")
    assert back.out.weight is back.embed.weight
    assert torch.equal(back.embed.weight, tied.embed.weight.cpu())


def test_loading_safetensors_never_unpickles(
    nets: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net, X = _net(nets), _features()
    nbtrack.pytorch.save_model(net, tmp_path / "m", init_kwargs={"n_in": 4, "hidden": 6})

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a safetensors model was unpickled")

    # Any unpickling while loading would fail the test.
    for target, name in [(pickle, "load"), (pickle, "loads"), (torch, "load")]:
        monkeypatch.setattr(target, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    module = nbtrack.pytorch.load_model(tmp_path / "m")
    np.testing.assert_array_equal(_forward(module, X), _forward(net, X))


def test_pickle_needs_an_explicit_opt_in(nets: ModuleType, tmp_path: Path) -> None:
    net, X = _net(nets), _features()
    meta = nbtrack.pytorch.save_model(net, tmp_path / "m", serialization="pickle")
    assert meta.flavor_conf["model_file"] == "model.pkl"
    for load in (nbtrack.pytorch.load_model, nbtrack.pyfunc.load_model):
        with pytest.raises(UnsafeModelError, match="allow_pickle=True"):
            load(tmp_path / "m")
    module = nbtrack.pytorch.load_model(tmp_path / "m", allow_pickle=True)
    np.testing.assert_array_equal(_forward(module, X), _forward(net, X))


def test_a_class_defined_in_a_notebook(ip: InteractiveShell, tmp_path: Path) -> None:
    """safetensors needs an importable class: a clear error says so when asked for; by
    default the module is pickled (MLflow's way), which loads from a path only opted in."""
    cell = textwrap.dedent(
        """
        import torch
        class NotebookNet(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = torch.nn.Linear(4, 2)
            def forward(self, x):
                return self.linear(x)
        net = NotebookNet()
        """
    )
    assert ip.run_cell(cell).success
    net = ip.user_ns["net"]
    assert type(net).__module__ == "__main__"
    with pytest.raises(InvalidInputError) as refused:
        nbtrack.pytorch.save_model(net, tmp_path / "m", serialization="safetensors")
    message = str(refused.value)
    assert "NotebookNet is defined in __main__ (a notebook or script)" in message
    assert "Move it to a module" in message
    assert "serialization='pickle'" in message
    assert not (tmp_path / "m").exists()  # nothing half-written is left

    assert nbtrack.pytorch.save_model(net, tmp_path / "m").serialization == "cloudpickle"
    with pytest.raises(UnsafeModelError):
        nbtrack.pytorch.load_model(tmp_path / "m")
    module = nbtrack.pytorch.load_model(tmp_path / "m", allow_pickle=True)
    x = np.ones((1, 4), dtype=np.float32)
    np.testing.assert_array_equal(_forward(module, x), _forward(net, x))


def test_a_class_defined_in_a_function_is_refused(tmp_path: Path) -> None:
    class Local(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x

    with pytest.raises(InvalidInputError, match="defined in a function"):
        nbtrack.pytorch.save_model(Local(), tmp_path / "m", serialization="safetensors")


def test_bad_inputs_are_refused_when_saving(nets: ModuleType, tmp_path: Path) -> None:
    net = _net(nets)
    with pytest.raises(InvalidInputError, match=r"takes a torch\.nn\.Module, got list"):
        nbtrack.pytorch.save_model([1, 2], tmp_path / "a")
    with pytest.raises(InvalidInputError, match="missing a required argument: 'n_in'"):
        nbtrack.pytorch.save_model(net, tmp_path / "b", serialization="safetensors")
    with pytest.raises(InvalidInputError, match="unexpected keyword argument 'depth'"):
        nbtrack.pytorch.save_model(net, tmp_path / "c", init_kwargs={"n_in": 4, "depth": 2})
    with pytest.raises(InvalidInputError, match="init_kwargs must be JSON values"):
        nbtrack.pytorch.save_model(net, tmp_path / "d", init_kwargs={"n_in": torch.ones(1)})
    with pytest.raises(InvalidInputError, match="safetensors"):
        nbtrack.pytorch.save_model(net, tmp_path / "e", serialization="skops")
    assert not any((tmp_path / d).exists() for d in "abcde")
    with pytest.raises(InvalidInputError, match="numeric input"):
        nbtrack.pytorch.save_model(
            net, tmp_path / "f", init_kwargs={"n_in": 4}, input_example=[["a", 1.0, 2, None]]
        )


def test_changed_or_missing_code_gives_clear_load_errors(tmp_path: Path) -> None:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    sys.path.insert(0, str(code_dir))
    name = f"nets_{uuid.uuid4().hex[:8]}"
    try:
        nets = _write_module(code_dir, NETS, name)
        nbtrack.pytorch.save_model(_net(nets), tmp_path / "m", init_kwargs={"n_in": 4})
        # hidden=6 in the weights, but the saved init_kwargs rebuild hidden=8
        with pytest.raises(ModelFormatError, match="saved weights do not fit Net"):
            nbtrack.pytorch.load_model(tmp_path / "m")

        nbtrack.pytorch.save_model(
            _net(nets), tmp_path / "m2", init_kwargs={"n_in": 4, "hidden": 6}
        )
        _write_module(code_dir, NETS.replace("n_in, hidden=8", "features, hidden=8"), name)
        with pytest.raises(ModelFormatError, match=r"cannot build Net\(\*\*\{'n_in': 4"):
            nbtrack.pytorch.load_model(tmp_path / "m2")

        (code_dir / f"{name}.py").unlink()
        sys.modules.pop(name, None)
        importlib.invalidate_caches()
        with pytest.raises(ModelFormatError, match=f"cannot import the torch module class '{name}"):
            nbtrack.pytorch.load_model(tmp_path / "m2")
    finally:
        sys.modules.pop(name, None)
        sys.path.remove(str(code_dir))
    assert read_metadata(tmp_path / "m2").flavor_conf["class"] == f"{name}:Net"
