"""Saving, logging and loading models of any flavor (``nbtrack.<flavor>`` wrap these)."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.entities import LoggedModelStatus
from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _registry_hooks, _trust, _uris
from nbtrack.models._flavor import flavor_named
from nbtrack.models._format import ModelMetadata, prepare_directory, read_metadata
from nbtrack.models._format import write_model_files as _write_files
from nbtrack.models._keywords import Extras, copy_code_paths, copy_inferred_code
from nbtrack.models._serialization import LoadOptions, check_serialization
from nbtrack.models._signature import ModelSignature, enforce, infer_signature
from nbtrack.store.artifacts import normalize_artifact_path

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient
    from nbtrack.entities import ModelVersion


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` returns: where the model is, and what it is."""

    model_uri: str
    artifact_path: str
    run_id: str
    flavor: str
    signature: ModelSignature | None
    metadata: ModelMetadata
    registered_model_version: ModelVersion | None = None
    model_id: str | None = None  # MLflow 3's LoggedModel id: models:/<model_id> loads it

    @property
    def params(self) -> dict[str, str]:
        """The ``params`` given to ``log_model`` (MLflow 3's ``ModelInfo.params``)."""
        return self.metadata.params

    @property
    def model_uuid(self) -> str:
        """The model's unique id, as written to ``MLmodel``."""
        return self.metadata.model_uuid


def save_model(
    flavor: str,
    model: Any,
    path: str | os.PathLike[str],
    *,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None,
    options: Mapping[str, Any] | None = None,
    extras: Extras | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    signature_from_example: bool = True,
) -> ModelMetadata:
    """Write ``model`` as a model directory at ``path`` (which must not hold anything yet).

    ``serialization=None`` lets the flavor choose: its safe format when the
    model allows it, else cloudpickle (a class defined in a notebook).
    Without ``signature``, one is inferred from ``input_example`` unless
    ``signature_from_example`` is False (autolog's ``log_model_signatures=False``).
    """
    impl = flavor_named(flavor)
    extras = extras or Extras()
    options = dict(options or {})
    if serialization is None:
        serialization = impl.default_serialization(model, options)
    check_serialization(serialization, impl.serializations)
    target = Path(path)
    prepare_directory(target)
    try:
        copy_code_paths(extras.code_paths, target)
        if extras.infer_code_paths:
            copy_inferred_code(model, target)
        saved = impl.save(model, target, serialization, options)
        if signature is None and input_example is not None and signature_from_example:
            try:
                output = impl.output_for_signature(model, input_example)
            except Exception as exc:
                raise InvalidInputError(
                    f"the model could not predict on input_example ({type(exc).__name__}: "
                    f"{exc}); give an example the model accepts, or pass signature="
                ) from exc
            signature = infer_signature(input_example, output)
        return _write_files(
            target,
            flavor=flavor,
            serialization=serialization,
            flavor_conf=saved.config,
            signature=signature,
            input_example=input_example,
            distributions=saved.distributions,
            extra_pip_requirements=extras.extra_pip_requirements,
            pip_requirements=extras.pip_requirements,
            metadata=extras.metadata,
            params=extras.params,
            run_id=run_id,
            artifact_path=artifact_path,
        )
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def log_model(
    flavor: str,
    model: Any,
    name: str,
    *,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None,
    options: Mapping[str, Any] | None = None,
    extras: Extras | None = None,
    registered_model_name: str | None = None,
) -> ModelInfo:
    """Save ``model`` into the active run's artifacts under ``name`` (a run is started if none)."""
    from nbtrack import fluent

    normalize_artifact_path(name, what="model name")
    if registered_model_name is not None:  # refused before anything is logged
        _registry_hooks.registry().check_name(registered_model_name)
    run = fluent.active_run() or fluent.start_run()
    return log_model_into(
        run.client,
        run.info.run_id,
        flavor,
        model,
        name,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options=options,
        extras=extras,
        registered_model_name=registered_model_name,
    )


def log_model_into(
    client: TrackingClient,
    run_id: str,
    flavor: str,
    model: Any,
    name: str,
    *,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None,
    options: Mapping[str, Any] | None = None,
    extras: Extras | None = None,
    registered_model_name: str | None = None,
    signature_from_example: bool = True,
) -> ModelInfo:
    """:func:`log_model` into a given run of a given client (no active run involved).

    Autolog writes models on a background thread, which has no active run.
    ``signature_from_example``: see :func:`save_model`.
    """
    artifact_path = normalize_artifact_path(name, what="model name")
    if registered_model_name is not None:  # refused before anything is logged
        _registry_hooks.registry().check_name(registered_model_name)
    client.flush()
    if client.queries.artifact_files(run_id, artifact_path):
        raise InvalidInputError(
            f"run {run_id} already has artifacts at {artifact_path!r}; "
            "log the model under another name"
        )
    with tempfile.TemporaryDirectory(prefix="nbtrack-model-") as tmp:
        local = Path(tmp) / "model"
        metadata = save_model(
            flavor,
            model,
            local,
            input_example=input_example,
            signature=signature,
            serialization=serialization,
            options=options,
            extras=extras,
            run_id=run_id,
            artifact_path=artifact_path,
            signature_from_example=signature_from_example,
        )
        client.log_artifacts(run_id, local, artifact_path)
        _trust.record(client, run_id, artifact_path, local)
    client.flush()
    model_id = client.create_logged_model(
        client.get_run(run_id).info.experiment_id,
        artifact_path,
        run_id,
        params=metadata.params,
        model_type=flavor,
        artifact_path=artifact_path,
        status=LoggedModelStatus.READY,
    ).model_id
    uri = f"runs:/{run_id}/{artifact_path}"
    version = None
    if registered_model_name is not None:
        registry = _registry_hooks.registry()
        version = registry.register(client.tracking_uri, uri, registered_model_name)
    return ModelInfo(
        uri, artifact_path, run_id, flavor, metadata.signature, metadata, version, model_id
    )


class PyFuncModel:
    """A loaded model: ``predict(data)`` checks input against the signature first.

    ``metadata`` says what it is: flavor, signature, requirements, source run.
    """

    def __init__(self, flavor: str, native: Any, metadata: ModelMetadata) -> None:
        self._impl = flavor_named(flavor)
        self._native = native
        self.metadata = metadata

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Predictions for ``data`` (DataFrame, numpy array, dict or list of records).

        Raises :class:`~nbtrack.models.SignatureError` naming the missing or
        mistyped column when ``data`` does not match the signature. ``params``
        go to a custom model's ``predict(..., params=...)`` when it takes them.
        """
        checked = enforce(self.metadata.signature, data)
        return self._impl.predict(self._native, checked, None if params is None else dict(params))

    def unwrap_python_model(self) -> Any:
        """The flavor's own object (estimator, module, or the user's PythonModel).

        A model loaded from a store lives in a temporary copy that is removed
        when this ``PyFuncModel`` is garbage-collected: keep it alive while the
        object uses its artifact files.
        """
        native = self._native
        return getattr(native, "model", native) if self.metadata.flavor == "pyfunc" else native

    def __repr__(self) -> str:
        meta = self.metadata
        return f"<PyFuncModel flavor={meta.flavor} source={meta.source or meta.path}>"


def fetch(
    model_uri: str | os.PathLike[str],
    *,
    dst_path: str | os.PathLike[str] | None = None,
    client: TrackingClient | None = None,
) -> tuple[Path, ModelMetadata, bool]:
    """A local, verified copy of a model: ``(directory, metadata, is_temporary)``."""
    fetched = _fetch(model_uri, dst_path=dst_path, client=client)
    return fetched.path, fetched.metadata, fetched.temporary


@dataclass(frozen=True)
class _Fetched:
    path: Path
    metadata: ModelMetadata
    temporary: bool
    recorded: bool  # trusted: logged by the store run it was loaded from (see _trust)


def _fetch(
    model_uri: str | os.PathLike[str],
    *,
    dst_path: str | os.PathLike[str] | None,
    client: TrackingClient | None,
) -> _Fetched:
    uri = os.fspath(model_uri)
    if not _uris.is_store_uri(uri):
        path = _uris.local_path(uri)
        return _Fetched(path, read_metadata(path, source=uri), False, False)
    from nbtrack import fluent

    fluent.wait_background()  # a model autolog is still writing
    if client is None:
        from nbtrack.client import TrackingClient

        client = TrackingClient()
    client.flush()
    source = _uris.store_source(client, uri)
    temporary = dst_path is None
    target = Path(tempfile.mkdtemp(prefix="nbtrack-model-")) if dst_path is None else Path(dst_path)
    try:
        _uris.materialize(client, source.rows, target)
        metadata = read_metadata(target, source=uri)  # every file's hash, before anything else
        return _Fetched(target, metadata, temporary, _trust.recorded(client, source.run_id, target))
    except BaseException:
        if temporary:
            shutil.rmtree(target, ignore_errors=True)
        raise


def load_native(path: Path, metadata: ModelMetadata, options: LoadOptions) -> Any:
    """The flavor's object for a verified model directory, as far as ``options`` allow."""
    _trust.add_code_dir(path, metadata.files, options)
    return flavor_named(metadata.flavor).load_native(path, metadata, options)


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] | None = None,
    trust_code: bool = False,
    dst_path: str | os.PathLike[str] | None = None,
    flavor: str | None = None,
    client: TrackingClient | None = None,
    model_config: Mapping[str, Any] | None = None,
) -> PyFuncModel:
    """Load any nbtrack model as a :class:`PyFuncModel` (``flavor`` asserts which one).

    Nothing the model names is imported or unpickled before its files' hashes
    are verified and the trust rule of :mod:`nbtrack.models._trust` allows it.
    """
    fetched = _fetch(model_uri, dst_path=dst_path, client=client)
    path, metadata = fetched.path, fetched.metadata
    if flavor is not None and metadata.flavor != flavor:
        raise InvalidInputError(
            f"{model_uri} is a {metadata.flavor!r} model, not {flavor!r}; load it with "
            f"nbtrack.pyfunc.load_model or nbtrack.{metadata.flavor}.load_model"
        )
    options = replace(
        LoadOptions.of(allow_pickle, trusted_types, trust_code),
        recorded=fetched.recorded,
        model_config=dict(model_config or {}),
    )
    native = load_native(path, metadata, options)
    model = PyFuncModel(metadata.flavor, native, metadata)
    if fetched.temporary:  # its files (e.g. pyfunc artifacts) live as long as the model
        weakref.finalize(model, _uris.remove_tree, path)
    return model
