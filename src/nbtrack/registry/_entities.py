"""Registry entities, shaped like MLflow's (``RegisteredModel``, ``ModelVersion``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from nbtrack.exceptions import InvalidInputError


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
