"""Images and tables as run artifacts: ``log_image``, ``log_table``, ``load_table``.

MLflow's functions and formats: an image from a numpy array or a PIL image,
saved as PNG either at ``artifact_file`` or, with ``key``/``step``, as one
point of an image series (``images/<key>%step%<step>%timestamp%<ms>%<uuid>.png``,
MLflow's layout); a table (a dict of columns or a DataFrame) as JSON in
pandas' ``split`` orientation, read back by ``load_table`` across runs.
numpy, Pillow and pandas are imported only here, when called.
"""

from __future__ import annotations

import io
import json
import logging
import posixpath
import re
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nbtrack import fluent
from nbtrack.exceptions import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

_KEY_CHARS = re.compile(r"[^\w\-. /]")


def _to_pil(image: Any) -> Any:  # noqa: PLR0912 (one branch per MLflow conversion rule)
    """A PIL image from a PIL image or a 2-D/3-D numpy array (MLflow's conversion rules)."""
    try:
        from PIL import Image
    except ImportError:
        raise InvalidInputError("log_image needs Pillow: pip install pillow") from None
    if isinstance(image, Image.Image):
        return image
    try:
        import numpy as np
    except ImportError:
        raise InvalidInputError("log_image takes a PIL image or a numpy array") from None
    if not isinstance(image, np.ndarray):
        raise TypeError(f"Unsupported image object type: {type(image)!r}")
    if image.dtype.kind not in "biuf":
        raise TypeError(f"Invalid array data type: {image.dtype!r}; use integers, floats or bool")
    if image.ndim not in (2, 3):
        raise ValueError(f"`image` must be a 2D or 3D array but got a {image.ndim}D array")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ValueError(f"Invalid channel length: {image.shape[2]}. Must be one of [1, 3, 4]")
    if image.dtype.kind == "b":
        image = image.astype(np.uint8) * 255
    elif image.dtype.kind == "f":
        if image.min() < 0 or image.max() > 1:
            log.warning(
                "Out-of-range values are detected. Clipping array (dtype: '%s') to [0, 1]",
                image.dtype,
            )
            image = np.clip(image, 0, 1)
        image = (image * 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        if image.min() < 0 or image.max() > 255:
            log.warning(
                "Out-of-range values are detected. Clipping array (dtype: '%s') to [0, 255]",
                image.dtype,
            )
            image = np.clip(image, 0, 255)
        image = image.astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return Image.fromarray(image)


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    _to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
) -> None:
    """Store an image (numpy array or PIL image) in the active run.

    Either ``artifact_file`` (a path such as ``"plots/input.png"``), or ``key``
    with an optional ``step``: one image of the series ``key`` at that step,
    stored under ``images/`` as MLflow stores it.
    """
    run = fluent._run()
    if (artifact_file is None) == (key is None):
        raise InvalidInputError("log_image takes either artifact_file or key (with step)")
    if artifact_file is not None:
        if step is not None or timestamp is not None:
            raise InvalidInputError("step and timestamp go with key, not artifact_file")
        run.client.log_bytes(run.info.run_id, _png(image), artifact_file)
        return
    assert key is not None
    if _KEY_CHARS.search(key):
        raise InvalidInputError(
            f"image key {key!r} has characters other than letters, digits, _ - . / and space"
        )
    ms = timestamp if timestamp is not None else int(time.time() * 1000)
    name = key.replace("/", "#")
    stem = f"{name}%step%{step or 0}%timestamp%{ms}%{uuid.uuid4().hex}"
    run.client.log_bytes(run.info.run_id, _png(image), f"images/{stem}.png")


def _table_frame(data: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        try:
            return pd.DataFrame(data)
        except ValueError as error:
            raise InvalidInputError(
                f"log_table: the columns do not make a table: {error}"
            ) from None
    raise InvalidInputError(
        f"log_table takes a dict of columns or a pandas DataFrame, got {type(data).__name__}"
    )


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Store a table (dict of columns or DataFrame) as a ``.json`` artifact, MLflow's format."""
    if not artifact_file.endswith(".json"):
        raise InvalidInputError(
            f"log_table writes JSON: artifact_file {artifact_file!r} must end in .json"
        )
    frame = _table_frame(data)
    client = fluent._client()
    target = run_id if run_id is not None else fluent._run().info.run_id
    existing = _read_table(client, target, artifact_file)
    if existing is not None:  # MLflow appends rows to a table logged before
        import pandas as pd

        frame = pd.concat([existing, frame], ignore_index=True)
    text = frame.to_json(orient="split", index=False, date_format="iso")
    client.log_text(target, text, artifact_file)


def _read_table(client: Any, run_id: str, artifact_file: str) -> pd.DataFrame | None:
    import pandas as pd

    try:
        raw = client.read_artifact(run_id, artifact_file)
    except NotFoundError:
        return None
    content = json.loads(raw)
    return pd.DataFrame(content["data"], columns=content["columns"])


def load_table(
    artifact_file: str,
    run_ids: Sequence[str] | None = None,
    extra_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The tables logged as ``artifact_file``, concatenated over runs.

    ``run_ids``: those runs (default: every run of the current experiment that
    has the file). ``extra_columns``: run fields to add as columns (``"run_id"``).
    """
    import pandas as pd

    client = fluent._client()
    if run_ids is None:
        runs = client.search_runs([fluent._current_experiment_id()], max_results=None)
        run_ids = [r.info.run_id for r in runs]
        required = False
    else:
        required = True
    frames = []
    for rid in run_ids:
        frame = _read_table(client, rid, posixpath.normpath(artifact_file))
        if frame is None:
            if required:
                raise NotFoundError(f"run {rid} has no table {artifact_file!r}")
            continue
        for column in extra_columns or ():
            if column != "run_id":
                raise InvalidInputError(f"extra_columns supports 'run_id', not {column!r}")
            frame[column] = rid
        frames.append(frame)
    if not frames:
        raise NotFoundError(f"no run has a table {artifact_file!r}")
    return pd.concat(frames, ignore_index=True)
