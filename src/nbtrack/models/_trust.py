"""The trust decision of a model load: what a model directory may make this process run.

A model directory is data. Loading it must not import, unpickle or execute
anything it names before the decision below is made, and the decision is
taken only after every file's sha256 was checked against ``MLmodel``.

A model is **trusted** when one of these holds:

* it is loaded by ``runs:/`` or ``models:/`` URI from this store, and the run
  that logged it recorded, at ``log_model`` time, the sha256 of exactly this
  ``MLmodel`` (which itself lists the sha256 of every other file): the tag
  ``nbtrack.model.<artifact_path>`` on that run. Only ``log_model`` writes it,
  after serializing an object of the user's own process, so a model that
  arrived as a folder (a path, a copy, files logged with ``log_artifacts``)
  is never trusted this way;
* the caller says so: ``trust_code=True`` (run the code the model names) or
  ``allow_pickle=True`` (unpickling runs arbitrary code, so it implies
  ``trust_code``); ``NBTRACK_TRUST_CODE=1`` / ``NBTRACK_ALLOW_PICKLE=1`` where
  no argument can be passed (MLflow's loaders).

Without trust, a class named by the model (``module:Class``) is used only if
its module is already imported in this process (importing it again runs
nothing) or is one of nbtrack's model modules; anything else is refused without importing it,
naming the module, where it would be imported from, and the opt-ins. Trusted
or not, a module that would be imported from inside the model directory
(rather than from its ``code/`` folder, or the environment) is refused unless
the caller passed ``trust_code=True`` or ``allow_pickle=True``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.models import _serialization as ser
from nbtrack.models._errors import ModelFormatError, ModelIntegrityError, UnsafeModelError
from nbtrack.models._format import CODE_DIR, read_document
from nbtrack.models._serialization import LoadOptions

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient

log = logging.getLogger(__name__)

#: Tag a run gets for each model ``log_model`` wrote: ``nbtrack.model.<artifact_path>``,
#: value the sha256 of that model's ``MLmodel``.
TAG_PREFIX = "nbtrack.model."
#: nbtrack's own model modules: importable on a model's say-so (they run nothing on import).
_OWN_MODULES = ("nbtrack.models", "nbtrack.pyfunc", "nbtrack.sklearn", "nbtrack.pytorch")
_OPT_INS = (
    "pass trust_code=True to load_model (nbtrack models serve --trust-code; "
    f"{ser.ENV_TRUST_CODE}=1 for MLflow's loaders)"
)


def mlmodel_sha256(path: Path) -> str:
    """The sha256 of a model directory's ``MLmodel`` file."""
    return hashlib.sha256((path / "MLmodel").read_bytes()).hexdigest()


def tag_key(artifact_path: str) -> str:
    """The run tag that records the model logged at ``artifact_path``."""
    return f"{TAG_PREFIX}{artifact_path}"


def record(client: TrackingClient, run_id: str, artifact_path: str, path: Path) -> None:
    """Record on the run that ``log_model`` wrote the model at ``path`` (its ``MLmodel``'s sha256).

    Called by ``log_model`` only, once the files are stored. A path too long
    for a tag key is logged and left unrecorded: that model then loads like
    one from elsewhere (``trust_code`` / ``allow_pickle`` when it needs them).
    """
    try:
        client.set_tag(run_id, tag_key(artifact_path), mlmodel_sha256(path))
    except InvalidInputError as exc:
        log.warning(
            "model %r of run %s is logged, but not recorded as this store's own (%s); "
            "loading it will need trust_code=True or allow_pickle=True if it names code",
            artifact_path,
            run_id,
            exc,
        )


def recorded(client: TrackingClient, run_id: str | None, path: Path) -> bool:
    """Whether ``run_id`` (a run of ``client``'s store) logged exactly the ``MLmodel`` at ``path``.

    ``path`` holds the files as materialized from the store, already verified
    against their hashes; the ``MLmodel`` must name ``run_id`` and the run's tag
    for its artifact path must hold this ``MLmodel``'s sha256.
    """
    if run_id is None:
        return False
    document = read_document(path)
    artifact_path = document.get("artifact_path")
    if document.get("run_id") != run_id or not isinstance(artifact_path, str):
        return False
    try:
        tags = client.get_run(run_id).data.tags
    except NotFoundError:
        return False
    return tags.get(tag_key(artifact_path)) == mlmodel_sha256(path)


# -- classes named by a model ----------------------------------------------------------


def resolve_class(class_path: str, what: str, model_dir: Path, trust: LoadOptions) -> type:
    """The class ``module:QualName`` named by a model, imported only if the rule allows it."""
    module_name, sep, qualname = class_path.partition(":")
    if (
        not sep
        or not all(part.isidentifier() for part in module_name.split("."))
        or not all(part.isidentifier() for part in qualname.split("."))
    ):
        raise ModelFormatError(f"{what} class {class_path!r} is not of the form 'module:Class'")
    module = sys.modules.get(module_name)
    if module is None:
        module = _import_checked(module_name, class_path, what, model_dir, trust)
    target: Any = module
    try:
        for part in qualname.split("."):
            target = getattr(target, part)
    except AttributeError as exc:
        raise ModelFormatError(
            f"cannot import the {what} class {class_path!r} ({exc}); install or put on the "
            "Python path the code that defined it"
        ) from None
    if not isinstance(target, type):
        raise ModelFormatError(f"{what} {class_path!r} is not a class")
    return target


def _import_checked(
    module_name: str, class_path: str, what: str, model_dir: Path, trust: LoadOptions
) -> Any:
    top = module_name.split(".", maxsplit=1)[0]
    if any(module_name == m or module_name.startswith(f"{m}.") for m in _OWN_MODULES):
        return importlib.import_module(module_name)  # resolved inside the imported nbtrack
    origin = _origin(top)
    shipped = model_dir / CODE_DIR
    if origin is None and ((shipped / f"{top}.py").is_file() or (shipped / top).is_dir()):
        raise UnsafeModelError(
            f"the model in {model_dir} names the {what} class {class_path!r}, whose module "
            f"{module_name!r} came with the model ({CODE_DIR}/, its code_paths). That folder "
            "goes on the Python path only for a model loaded from the store run that logged "
            f"it. If you trust this model, {_OPT_INS}"
        )
    if origin is None:
        raise ModelFormatError(
            f"cannot import the {what} class {class_path!r} (no module named {top!r}); "
            "install or put on the Python path the code that defined it"
        )
    own_code = trust.recorded and _inside(origin, model_dir / CODE_DIR)
    if _inside(origin, model_dir) and not (trust.explicit or own_code):
        raise UnsafeModelError(
            f"the model in {model_dir} names the {what} class {class_path!r}, whose module "
            f"{module_name!r} would be imported from {origin}, a file inside the model "
            "directory itself. Importing it would run code that came with the model, so "
            f"nbtrack refuses. If you trust this model, {_OPT_INS}"
        )
    if not trust.may_import:
        where = " (the working directory)" if _in_working_directory(origin) else ""
        raise UnsafeModelError(
            f"the model in {model_dir} names the {what} class {class_path!r}; its module "
            f"{module_name!r} is not imported in this process, and importing it (from "
            f"{origin}{where}) runs that module's code. This model was not logged to this "
            "store by the run it is loaded from, so nbtrack does not import code on its behalf. "
            f"If you trust the module, import it yourself first (import {module_name}), or "
            f"{_OPT_INS}"
        )
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelFormatError(
            f"cannot import the {what} class {class_path!r} ({exc}); install or put on the "
            "Python path the code that defined it"
        ) from None


def _origin(top: str) -> Path | None:
    """Where the top-level module ``top`` would be imported from, without importing anything.

    ``find_spec`` of a top-level name only asks the finders (no module code
    runs); a dotted name would import its parents, so only the top is resolved.
    """
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return Path(spec.origin)
    locations = list(spec.submodule_search_locations or [])
    return Path(locations[0]) if locations else Path(f"<{spec.origin or 'namespace'}>")


def _inside(origin: Path, directory: Path) -> bool:
    try:
        return origin.resolve().is_relative_to(directory.resolve())
    except OSError:
        return False


def _in_working_directory(origin: Path) -> bool:
    return _inside(origin, Path.cwd())


def add_code_dir(model_dir: Path, files: dict[str, str], trust: LoadOptions) -> None:
    """Put the model's ``code/`` folder (``code_paths``) first on ``sys.path``, when trusted.

    Every file in it must be one of the hashed files: a file added to the
    folder after the model was saved is refused.
    """
    code = model_dir / CODE_DIR
    if not code.is_dir() or not trust.may_import:
        return
    for file in code.rglob("*"):
        rel = file.relative_to(model_dir).as_posix()
        if file.is_file() and rel not in files and "__pycache__" not in file.parts:
            raise ModelIntegrityError(
                f"{rel} in {model_dir} is not one of the model's hashed files; it was added "
                "after the model was saved. Refusing to put the model's code on the path"
            )
    entry = str(code.resolve())
    if entry not in sys.path:
        sys.path.insert(0, entry)
        importlib.invalidate_caches()
