"""The dataset description shared by the pandas and numpy datasets."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from nbtrack.entities import Dataset as DatasetEntity

#: Rows hashed for a digest (MLflow's limit, so digests agree with MLflow's).
MAX_ROWS = 10_000

_NUMPY_TYPES = {
    "b": "boolean",
    "i": "long",
    "u": "long",
    "f": "double",
    "U": "string",
    "S": "binary",
    "O": "string",
    "M": "datetime",
}


def md5_digest(elements: list[Any]) -> str:
    """First 8 hex digits of the md5 of ``elements`` (MLflow's normalised digest)."""
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:8]


def column_type(dtype: Any) -> str:
    """MLflow's column type name for a numpy/pandas dtype."""
    if str(dtype) == "int32":
        return "integer"
    if str(dtype) == "float32":
        return "float"
    return _NUMPY_TYPES.get(getattr(dtype, "kind", "O"), "string")


class Dataset:
    """A named dataset: digest, source, schema and profile, as MLflow records them."""

    def __init__(self, name: str, digest: str, source: Any, source_type: str) -> None:
        self.name = name
        self.digest = digest
        self.source = source
        self.source_type = source_type

    @property
    def schema(self) -> dict[str, Any] | None:
        """``{"mlflow_colspec": [...]}`` or ``{"mlflow_tensorspec": ...}``."""
        return None

    @property
    def profile(self) -> dict[str, Any] | None:
        """Row and element counts."""
        return None

    def to_dict(self) -> dict[str, str]:
        """The dataset's fields as MLflow serialises them (JSON texts)."""
        out = {
            "name": self.name,
            "digest": self.digest,
            "source": json.dumps(self.source),
            "source_type": self.source_type,
        }
        if self.schema is not None:
            out["schema"] = json.dumps(self.schema)
        if self.profile is not None:
            out["profile"] = json.dumps(self.profile)
        return out

    def to_entity(self) -> DatasetEntity:
        """The :class:`nbtrack.entities.Dataset` a run stores."""
        fields = self.to_dict()
        return DatasetEntity(
            name=fields["name"],
            digest=fields["digest"],
            source_type=fields["source_type"],
            source=fields["source"],
            schema=fields.get("schema"),
            profile=fields.get("profile"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} digest={self.digest}>"


def resolve_source(source: Any) -> tuple[dict[str, Any], str]:
    """``(source dict, source type)`` for a path, URI or None (the code that made it)."""
    if source is None:
        return {"tags": {}}, "code"
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "://" not in source):
        return {"uri": str(source)}, "local"
    text = str(source)
    scheme = text.split("://", 1)[0].lower()
    return {"uri": text}, {"file": "local", "http": "http", "https": "http"}.get(scheme, scheme)


def ensure_name(name: str | None) -> str:
    """The dataset name: the one given, else MLflow's default ``dataset``."""
    return name if name else "dataset"
