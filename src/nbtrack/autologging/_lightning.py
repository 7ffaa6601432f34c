"""PyTorch Lightning autolog: ``Trainer.fit`` of ``lightning`` and ``pytorch_lightning``.

What a fit logs (MLflow's names where MLflow has them):

- params: ``epochs`` (``max_epochs``), ``optimizer_name`` and the first
  optimizer's settings (``lr``, ``momentum``, ...), the module's hyperparameters
  (``save_hyperparameters()``), and for each ``EarlyStopping`` callback its
  ``monitor``, ``mode``, ``patience``, ``min_delta``; metric ``stopped_epoch``;
- every metric the module logs with ``self.log``, as Lightning hands it to its
  loggers: per step (every ``Trainer(log_every_n_steps=...)``) and per epoch,
  at step = the trainer's global step; nbtrack is added as one more logger;
- the model under ``model`` (``nbtrack.pytorch.log_model``: safetensors weights
  and the class path, ``init_kwargs`` from the hyperparameters): the best
  checkpoint's weights when a ``ModelCheckpoint`` kept one, else the final ones;
  as MLflow does, the input of the module's first ``forward`` in training (one
  tensor) gives the signature (``log_model_signatures``), and its first rows
  are kept as the input example (``log_input_examples``).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from nbtrack.autologging import _core
from nbtrack.autologging._core import Session, Settings

FLAVOR = "pytorch"
_PACKAGES = ("lightning.pytorch", "pytorch_lightning")

log = logging.getLogger("nbtrack.autolog")


def autolog(
    log_every_n_epoch: int = 1,
    log_every_n_step: int | None = None,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
    checkpoint: bool = True,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
) -> None:
    """Log Lightning training automatically (MLflow's ``mlflow.pytorch.autolog``).

    ``log_every_n_epoch``/``log_every_n_step`` thin out what Lightning hands
    its loggers (default: everything). ``checkpoint``: log the best checkpoint's
    weights as the model (False: the final weights).
    """
    del disable_for_unsupported_versions
    config = Settings(
        log_models=log_models,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_datasets=log_datasets,
        disable=disable,
        exclusive=exclusive,
        silent=silent,
        extra={
            "log_every_n_epoch": max(1, int(log_every_n_epoch)),
            "log_every_n_step": log_every_n_step,
            "registered_model_name": registered_model_name,
            "extra_tags": dict(extra_tags or {}),
            "checkpoint": checkpoint,
        },
    )
    _core.configure(FLAVOR, config, _install)


def _install() -> None:
    import importlib

    found = False
    for package in _PACKAGES:
        try:
            module = importlib.import_module(package)
        except ImportError:
            continue
        found = True
        _core.patch(FLAVOR, module.Trainer, "fit", _patched_fit)
    if not found:
        raise ImportError("neither lightning nor pytorch_lightning is installed")


def _logger_class(trainer: Any) -> Any:
    """A Lightning ``Logger`` subclass from the trainer's own package (both are supported)."""
    package = (
        "lightning.pytorch"
        if type(trainer).__module__.startswith("lightning.")
        else ("pytorch_lightning")
    )
    import importlib

    base = importlib.import_module(f"{package}.loggers").Logger
    cached = _LOGGERS.get(package)
    if cached is not None:
        return cached

    class NbtrackLogger(base):  # type: ignore[misc, valid-type]
        """Hands what Lightning logs to the run (enqueue only)."""

        def __init__(self, session: Session, every_step: int | None, every_epoch: int) -> None:
            super().__init__()
            self.session = session
            self.every_step = every_step
            self.every_epoch = every_epoch

        @property
        def name(self) -> str:
            return "nbtrack"

        @property
        def version(self) -> str:
            return self.session.run_id

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            values = _flat(dict(params) if isinstance(params, Mapping) else vars(params))
            try:
                _core.log_params(self.session, values)
            except Exception as exc:
                _core.report(FLAVOR, "log hyperparameters", exc)

        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            epoch_end = any(k.endswith("_epoch") for k in metrics) or "epoch" not in metrics
            if self.every_step and step is not None and step % self.every_step and not epoch_end:
                return
            now = int(time.time() * 1000)
            points = []
            for key, value in metrics.items():
                if key != "epoch":
                    try:
                        points.append((key, float(value), now, step))
                    except (TypeError, ValueError):  # a non-scalar Lightning passed on
                        continue
            if not points:
                return
            try:
                self.session.client.log_batch(self.session.run_id, metrics=points)
            except Exception as exc:
                _core.report(FLAVOR, "log metrics", exc)

    _LOGGERS[package] = NbtrackLogger
    return NbtrackLogger


_LOGGERS: dict[str, Any] = {}


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


def _patched_fit(original: Any, trainer: Any, *args: Any, **kwargs: Any) -> Any:
    module = args[0] if args else kwargs.get("model")

    def before(session: Session) -> Any:
        config = _core.settings(FLAVOR) or Settings()
        tags = {_core.AUTOLOGGING_TAG: FLAVOR, **config.extra.get("extra_tags", {})}
        session.client.log_batch(session.run_id, tags=list(tags.items()))
        params: dict[str, Any] = {"epochs": trainer.max_epochs}
        params.update(_early_stopping_params(trainer))
        _core.log_params(session, params)
        cls = _logger_class(trainer)
        ours = cls(session, config.extra.get("log_every_n_step"), 1)
        previous = list(trainer.loggers)
        trainer.loggers = [*previous, ours]
        wants = config.log_input_examples or config.log_model_signatures
        first = _FirstInput(trainer, module) if config.log_models and wants else None
        state["first"] = first
        return previous

    def after(session: Session, previous: Any, _result: Any) -> None:
        if previous is not None:
            trainer.loggers = previous
        first = state.get("first")
        if first is not None:
            first.restore()
        _log_optimizer(session, trainer)
        stopped = [cb.stopped_epoch for cb in _early_stopping(trainer)]
        if stopped:
            session.client.log_metric(session.run_id, "stopped_epoch", float(stopped[0]), step=0)
        config = _core.settings(FLAVOR) or Settings()
        if config.log_models and module is not None:
            example = first.example if first is not None else None
            _log_model(session, trainer, module, config, example)

    state: dict[str, Any] = {}
    try:
        return _core.run_patched(FLAVOR, original, (trainer, *args), kwargs, before, after)
    finally:
        first = state.get("first")
        if first is not None:  # the fit failed: leave the module as it was
            first.restore()


class _FirstInput:
    """Wraps the module's ``forward`` (on the instance) until its first call in training.

    That call's input, when it is one tensor, is the training data as the
    module sees it (``training_step`` decides what of a batch is the input);
    its first rows are kept. The validation sanity check before training is
    not taken.
    """

    def __init__(self, trainer: Any, module: Any) -> None:
        self.example: Any = None
        self.module = module
        own = vars(module)
        self.had_own = "forward" in own
        self.previous = own.get("forward")
        self.active = True
        original = module.forward

        def forward(*inputs: Any, **kwargs: Any) -> Any:
            result = original(*inputs, **kwargs)
            if self.active and _training(trainer):
                self.restore()
                if len(inputs) == 1 and not kwargs and type(inputs[0]).__module__ == "torch":
                    try:
                        self.example = _core.example_rows(inputs[0])
                    except Exception as exc:
                        _core.report(FLAVOR, "take the input example", exc)
            return result

        module.forward = forward

    def restore(self) -> None:
        """Put the module's own ``forward`` back (idempotent)."""
        if not self.active:
            return
        self.active = False
        if self.had_own:
            self.module.forward = self.previous
        else:
            vars(self.module).pop("forward", None)


def _training(trainer: Any) -> bool:
    return bool(getattr(trainer, "training", True)) and not getattr(
        trainer, "sanity_checking", False
    )


def _early_stopping(trainer: Any) -> list[Any]:
    return [cb for cb in trainer.callbacks if type(cb).__name__ == "EarlyStopping"]


def _early_stopping_params(trainer: Any) -> dict[str, Any]:
    for cb in _early_stopping(trainer):
        return {
            "monitor": cb.monitor,
            "mode": cb.mode,
            "patience": cb.patience,
            "min_delta": abs(float(cb.min_delta)),
        }
    return {}


def _log_optimizer(session: Session, trainer: Any) -> None:
    optimizers = getattr(trainer, "optimizers", None) or []
    if not optimizers:
        return
    optimizer = optimizers[0]
    params: dict[str, Any] = {"optimizer_name": type(optimizer).__name__}
    for key, value in optimizer.defaults.items():
        if isinstance(value, int | float | str | bool) or value is None:
            params[key] = value
    _core.log_params(session, params)


def _log_model(session: Session, trainer: Any, module: Any, config: Settings, example: Any) -> None:
    from nbtrack.models import _api

    model = module
    best = getattr(getattr(trainer, "checkpoint_callback", None), "best_model_path", "")
    if best and config.extra.get("checkpoint", True):
        try:
            import torch

            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            model = copy.deepcopy(module).cpu()
            model.load_state_dict(state)
            session.client.set_tag(session.run_id, "nbtrack.model.checkpoint", str(best))
        except Exception as exc:  # a checkpoint with objects weights_only refuses
            _core.report(FLAVOR, "read the best checkpoint (logging the final weights)", exc)
            model = module
    init_kwargs = _json_hparams(module)
    try:
        input_example, signature = _core.example_and_signature(
            FLAVOR, FLAVOR, model, example, config
        )
        _core.log_model_once(
            lambda path: _api.log_model_into(
                session.client,
                session.run_id,
                FLAVOR,
                model,
                path,
                input_example=input_example,
                signature=signature,
                serialization=None,
                options={"init_kwargs": init_kwargs},
                registered_model_name=config.extra.get("registered_model_name"),
                signature_from_example=False,
            ),
            "model",
            session.run_id,
        )
    except Exception as exc:
        _core.report(FLAVOR, "log the model", exc)


def _json_hparams(module: Any) -> dict[str, Any] | None:
    """The hyperparameters to rebuild the module with (``cls(**init_kwargs)``).

    Floats are left out: the model format does not store them in ``MLmodel``
    (they are rarely what shapes the weights: learning rates, dropout); the
    class's defaults apply to them when the model is loaded.
    """
    hparams = getattr(module, "hparams", None)
    if not hparams:
        return None
    values = {k: v for k, v in dict(hparams).items() if not isinstance(v, float)}
    try:
        json.dumps(values)
    except (TypeError, ValueError):
        return None
    return values or None
