"""An MLflow 3 logged model, imported as an nbtrack logged model under the same id.

Its files arrive as the run's artifacts under the model's name (see
``_import._copy_model_files``); this records the model itself (name, params,
tags, status, linked metrics) so ``get_logged_model(<MLflow's id>)`` answers and
``models:/<id>`` names the same files. Nothing of MLflow's is trusted: the id
must be MLflow's ``m-<32 hex>``, names pass nbtrack's checks, and a model
already imported is left as it is (importing again is safe).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from nbtrack import _validation as check
from nbtrack.entities import LoggedModelMetric, LoggedModelStatus

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient

_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
_STATUSES = {s.value: s for s in LoggedModelStatus}


def record_logged_model(
    client: TrackingClient, model: Any, experiment_id: str, run_id: str, prefix: str
) -> bool:
    """Record MLflow's logged ``model`` (files already under ``prefix/`` of ``run_id``).

    Returns whether it was recorded (False: not an MLflow model id, or already here).
    """
    model_id = str(model.model_id)
    if not _MODEL_ID.fullmatch(model_id):
        return False
    status = str(getattr(model.status, "name", model.status) or "")
    return client.imports.insert_logged_model(
        model_id,
        experiment_id,
        name if isinstance(name := model.name, str) and 0 < len(name) <= 250 else prefix,
        source_run_id=run_id,
        artifact_path=prefix,
        model_type=model.model_type or None,
        params={check.key(k, "parameter name"): str(v) for k, v in (model.params or {}).items()},
        tags={check.key(k, "tag name"): str(v) for k, v in (model.tags or {}).items()},
        status=_STATUSES.get(status, LoggedModelStatus.READY),
        creation_time=int(model.creation_timestamp),
        metrics=[
            LoggedModelMetric(
                check.key(m.key, "metric name"),
                float(m.value),
                int(m.timestamp),
                int(m.step or 0),
                getattr(m, "run_id", None),
                model_id,
                getattr(m, "dataset_name", None),
                getattr(m, "dataset_digest", None),
            )
            for m in model.metrics or []
        ],
    )
