"""MLflow 3's LoggedModel entities: a model with an id of its own, and the metrics linked to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class LoggedModelStatus(StrEnum):
    """Where a logged model is in its life: files being written, ready, or failed."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class LoggedModelMetric:
    """A metric linked to a logged model: from which run, on which dataset."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True)
class LoggedModel:
    """A logged model: id ``m-<32 hex>``, name, experiment, source run, params, tags, metrics.

    ``model_uri`` (``models:/<model_id>``) loads it with any flavor's ``load_model``.
    """

    experiment_id: str
    model_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    source_run_id: str | None = None
    status: LoggedModelStatus = LoggedModelStatus.READY
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[LoggedModelMetric] = field(default_factory=list)

    @property
    def model_uri(self) -> str:
        """``models:/<model_id>``: what ``load_model`` and ``register_model`` take."""
        return f"models:/{self.model_id}"

    def to_dictionary(self) -> dict[str, Any]:
        """The model as plain data (MLflow's ``LoggedModel.to_dictionary``)."""
        data = asdict(self)
        data["status"] = str(self.status)
        data["model_uri"] = self.model_uri
        return data
