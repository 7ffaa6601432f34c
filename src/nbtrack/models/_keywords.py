"""MLflow's ``log_model`` / ``save_model`` keywords, read into nbtrack's terms.

MLflow 2 names the model's place in the run ``artifact_path``, MLflow 3
``name``; requirements come as a list or a requirements file; ``code_paths``
are files or folders copied into the model's ``code/`` folder; ``artifacts``
of a custom model may be ``runs:/`` or ``models:/`` URIs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrack.exceptions import InvalidInputError
from nbtrack.models._code_inference import inferred_code_files
from nbtrack.models._format import CODE_DIR

#: The name a model gets when neither ``name`` nor ``artifact_path`` is given (MLflow's).
DEFAULT_NAME = "model"

Requirements = str | os.PathLike[str] | Iterable[str] | None


def model_name(name: str | None, artifact_path: str | None) -> str:
    """The model's path in the run from MLflow 3's ``name`` or MLflow 2's ``artifact_path``."""
    if name is not None and artifact_path is not None and name != artifact_path:
        raise InvalidInputError(
            f"name={name!r} and artifact_path={artifact_path!r} both name the model; "
            "pass only name= (artifact_path is MLflow 2's spelling of it)"
        )
    chosen = name if name is not None else artifact_path
    return DEFAULT_NAME if chosen is None else chosen


def the_model(given: Any, keyword: Any, keyword_name: str) -> Any:
    """The model passed positionally or as MLflow's keyword (``sk_model=``, ...), not both."""
    if given is not None and keyword is not None:
        raise InvalidInputError(f"the model is given twice: positionally and as {keyword_name}=")
    model = keyword if keyword is not None else given
    if model is None:
        raise InvalidInputError(f"no model given: pass it first, or as {keyword_name}=")
    return model


def requirement_lines(value: Requirements, what: str) -> list[str] | None:
    """A requirements list from a list of strings or the path of a requirements file."""
    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        file = Path(value)
        if not file.is_file():
            raise InvalidInputError(
                f"{what}={os.fspath(value)!r} is neither a list of requirements nor an "
                "existing requirements file"
            )
        lines = [line.split("#", 1)[0].strip() for line in file.read_text().splitlines()]
        return [line for line in lines if line]
    lines = [str(line) for line in value]
    if not all(line.strip() for line in lines):
        raise InvalidInputError(f"{what} has an empty requirement")
    return lines


def requirements(
    pip_requirements: Requirements, extra_pip_requirements: Requirements
) -> tuple[list[str] | None, list[str]]:
    """``(replacing, extra)`` requirements; MLflow refuses both at once, and so does nbtrack."""
    replacing = requirement_lines(pip_requirements, "pip_requirements")
    extra = requirement_lines(extra_pip_requirements, "extra_pip_requirements")
    if replacing is not None and extra:
        raise InvalidInputError(
            "pass pip_requirements (replaces the inferred requirements) or "
            "extra_pip_requirements (adds to them), not both"
        )
    return replacing, extra or []


def copy_code_paths(code_paths: Iterable[str], model_dir: Path) -> None:
    """Copy each file or folder into ``model_dir/code/`` (put on ``sys.path`` when trusted)."""
    code = model_dir / CODE_DIR
    for entry in code_paths:
        source = Path(entry)
        target = code / source.name
        if target.exists():
            raise InvalidInputError(f"code_paths has two entries named {source.name!r}")
        code.mkdir(exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, target)
        else:
            raise InvalidInputError(f"code_paths: {source} does not exist")


def copy_inferred_code(model: Any, model_dir: Path) -> None:
    """Copy the working-directory files ``model`` needs into ``model_dir/code/`` (same layout)."""
    root = Path.cwd()
    for relative in inferred_code_files(model, root):
        target = model_dir / CODE_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)


def string_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """MLflow's model ``params``: names to values, kept as strings."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidInputError("params must be a dict of names to values")
    return {str(k): str(v) for k, v in params.items()}


@dataclass(frozen=True)
class Extras:
    """What every flavor's ``save_model``/``log_model`` takes besides the model (MLflow's)."""

    pip_requirements: list[str] | None = None
    extra_pip_requirements: list[str] = field(default_factory=list)
    code_paths: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    infer_code_paths: bool = False

    @classmethod
    def of(
        cls,
        *,
        pip_requirements: Requirements = None,
        extra_pip_requirements: Requirements = None,
        code_paths: Iterable[str | os.PathLike[str]] | None = None,
        metadata: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        infer_code_paths: bool = False,
    ) -> Extras:
        """Checked keywords, so bad ones are refused before anything is written."""
        replacing, extra = requirements(pip_requirements, extra_pip_requirements)
        if isinstance(code_paths, str | os.PathLike):
            raise InvalidInputError(
                "code_paths must be a list of paths, e.g. code_paths=['model.py']"
            )
        if infer_code_paths and code_paths:
            raise InvalidInputError(
                "pass code_paths= (the files to ship) or infer_code_paths=True (find "
                "them), not both"
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidInputError("metadata must be a dict")
        return cls(
            replacing,
            extra,
            tuple(os.fspath(p) for p in code_paths or ()),
            dict(metadata or {}),
            string_params(params),
            infer_code_paths=bool(infer_code_paths),
        )
