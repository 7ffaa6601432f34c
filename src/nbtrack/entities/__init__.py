"""Plain data objects returned by the store, the client and the fluent API.

They follow MLflow's entity names and fields (``run.info.run_id``,
``run.data.metrics``) so code written against MLflow reads the same here.
Nothing in this module touches the database. The model registry's entities
(``RegisteredModel``, ``ModelVersion``, ``Stage``, ``RegistryEvent``) are here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NamedTuple

from nbtrack.exceptions import InvalidInputError

#: The experiment runs go to when none is chosen (MLflow's "Default", id 0).
DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"
#: Dataset inputs (``log_input``) are stored as run tags under this prefix, kept out of ``tags``.
INPUT_TAG_PREFIX = "nbtrack.input."


class RunStatus(StrEnum):
    """Lifecycle states of a run, spelled as MLflow spells them."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """True for the states a run ends in."""
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)

    @staticmethod
    def to_string(status: str | int) -> str:
        """MLflow's ``RunStatus.to_string``: the status name (MLflow's numbers 1-5 accepted)."""
        if isinstance(status, int) and not isinstance(status, bool):
            return _RUN_STATUS_ORDER[status - 1].value
        return RunStatus(str(status).upper()).value

    @staticmethod
    def from_string(status: str) -> RunStatus:
        """MLflow's ``RunStatus.from_string``."""
        return RunStatus(str(status).upper())

    @staticmethod
    def all_status() -> list[RunStatus]:
        """Every status."""
        return list(_RUN_STATUS_ORDER)


# MLflow numbers statuses RUNNING=1 .. KILLED=5 in this order.
_RUN_STATUS_ORDER = (
    RunStatus.RUNNING,
    RunStatus.SCHEDULED,
    RunStatus.FINISHED,
    RunStatus.FAILED,
    RunStatus.KILLED,
)


class ViewType(IntEnum):
    """Which lifecycle stages a search returns (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


class SourceType(StrEnum):
    """What started a run (MLflow's ``mlflow.source.type`` values)."""

    NOTEBOOK = "NOTEBOOK"
    JOB = "JOB"
    PROJECT = "PROJECT"
    LOCAL = "LOCAL"
    UNKNOWN = "UNKNOWN"

    @staticmethod
    def to_string(source_type: str) -> str:
        """The name of a source type."""
        return SourceType(str(source_type).upper()).value

    @staticmethod
    def from_string(source_type: str) -> SourceType:
        """The source type of a name."""
        return SourceType(str(source_type).upper())


class LifecycleStage(StrEnum):
    """Whether an experiment or run is visible (active) or in the trash (deleted)."""

    ACTIVE = "active"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


class Metric(NamedTuple):
    """One point of a metric series: ``value`` at ``step``, logged at ``timestamp`` (ms).

    A named tuple rather than a dataclass: histories hold 10^5..10^6 points and
    tuples are several times cheaper to build.
    """

    key: str
    value: float
    timestamp: int
    step: int


class Param(NamedTuple):
    """A run's input setting; values are strings, as in MLflow."""

    key: str
    value: str


class RunTag(NamedTuple):
    """A free-form label on a run."""

    key: str
    value: str


class ExperimentTag(NamedTuple):
    """A free-form label on an experiment."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Identity and lifecycle of a run."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    user_id: str
    parent_run_id: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for :attr:`run_id`."""
        return self.run_id


@dataclass(frozen=True, slots=True)
class RunData:
    """What a run logged: latest metric values, params and tags."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


class InputTag(NamedTuple):
    """A label on a dataset input (such as ``mlflow.data.context = train``)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset as a run records it: name, digest, where it came from, schema, profile.

    ``source``, ``schema`` and ``profile`` are JSON texts, as in MLflow.
    """

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset used by a run, with its tags (``mlflow.data.context`` among them)."""

    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunInputs:
    """What a run took as input: its datasets."""

    dataset_inputs: list[DatasetInput] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Run:
    """A run: its :class:`RunInfo`, its :class:`RunData` and its :class:`RunInputs`."""

    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """A file (or directory, when listing) among a run's artifacts."""

    path: str
    is_dir: bool
    file_size: int | None
    # Listings compare like MLflow's FileInfo (path, is_dir, file_size); the hash is extra.
    sha256: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class CellEvent:
    """One executed notebook cell in a run's timeline.

    ``seq`` numbers the run's executions from 1; ``cell_id`` is the notebook
    cell's id when the frontend sends it (JupyterLab does), else None.
    ``outcome`` is ``"ok"``, ``"error"`` or ``"running"`` (the kernel died, or
    the cell is still executing).
    """

    seq: int
    cell_id: str | None
    execution_count: int | None
    source: str
    start_time: int
    duration_ms: int | None
    outcome: str
    error_type: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class MetricProvenance:
    """Which cell logged which steps of a metric."""

    key: str
    cell: CellEvent
    first_step: int
    last_step: int
    count: int


# -- model registry (shaped like MLflow's RegisteredModel, ModelVersion) ---------------


class Stage(StrEnum):
    """MLflow's model version stages."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, value: str) -> Stage:
        """The stage named ``value`` in any letter case."""
        for stage in cls:
            if stage.value.lower() == str(value).strip().lower():
                return stage
        raise InvalidInputError(
            f"unknown stage {value!r}; use one of {', '.join(s.value for s in cls)}"
        )


@dataclass(frozen=True)
class ModelVersion:
    """One immutable version of a registered model.

    ``version`` is an int, as MLflow's Python client returns it. ``source`` is the URI it was
    registered from; ``run_id`` its source run (the version keeps working
    after that run is deleted). ``files`` maps each file to its sha256 (filled
    in by ``get_model_version``; empty in search results).
    """

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    run_id: str | None
    status: str = "READY"
    description: str | None = None
    user_id: str = ""
    flavor: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def model_uri(self) -> str:
        """``models:/NAME/VERSION``."""
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegisteredModel:
    """A named model with its versions' aliases and latest version per stage."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)


@dataclass(frozen=True)
class RegistryEvent:
    """One entry of the audit trail: what changed, from what, to what, when, by whom.

    ``action`` is one of ``create_model``, ``create_version``, ``transition_stage``,
    ``set_alias``, ``delete_alias``, ``set_tag``, ``delete_tag``,
    ``set_description``, ``delete_version``, ``delete_model``. ``key`` names the
    alias or tag; ``run_id`` is the version's source run.
    """

    event_id: int
    timestamp: int
    name: str
    version: str | None
    action: str
    key: str | None
    from_value: str | None
    to_value: str | None
    user_id: str
    host: str
    run_id: str | None


# MLflow 3's LoggedModel (kept in a module of its own; re-exported as MLflow does).
from nbtrack.entities._logged_model import (  # noqa: E402
    LoggedModel as LoggedModel,
)
from nbtrack.entities._logged_model import (  # noqa: E402
    LoggedModelMetric as LoggedModelMetric,
)
from nbtrack.entities._logged_model import (  # noqa: E402
    LoggedModelStatus as LoggedModelStatus,
)
