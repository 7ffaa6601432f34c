"""The same artifact behaviour on every backend: a local directory and S3 (moto's server).

Each test runs twice, with ``NBTRACK_ARTIFACT_ROOT`` a local directory and an
``s3://`` bucket on a real S3 API (moto in server mode on 127.0.0.1, see the
``moto_s3`` fixture). What is in the store is checked behind nbtrack's back:
files on disk, objects through boto3.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from _s3_helpers import Backend, s3_backend
from nbtrack import TrackingClient
from nbtrack.cli import main
from nbtrack.exceptions import ArtifactIntegrityError, InvalidInputError, NotFoundError
from nbtrack.store import close_all, get_store, locate


@pytest.fixture(params=["local", "s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    """The artifact root of this test's store: a local directory, or a bucket on moto."""
    if request.param == "s3":
        found: Backend = request.getfixturevalue("s3_root")
        return found
    found = Backend("local", str(tmp_path / "blobs"))
    monkeypatch.setenv(locate.ENV_ARTIFACT_ROOT, found.root)
    return found


@pytest.fixture
def store(backend: Backend, store_dir: Path) -> Iterator[TrackingClient]:
    """A client whose store keeps its blobs in ``backend``."""
    return TrackingClient(store_dir)


@pytest.fixture
def run_id(store: TrackingClient) -> str:
    return store.create_run("0").info.run_id


def _sql(client: TrackingClient) -> Any:
    """The client's open SQL store (the same object every client of that URI shares)."""
    return get_store(client.tracking_uri)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_log_list_download_and_read(
    store: TrackingClient, run_id: str, backend: Backend, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    (source / "plots" / "deep").mkdir(parents=True)
    files = {f"f{i}.txt": f"file {i}".encode() for i in range(12)}
    files["plots/loss.png"] = bytes(range(256)) * 40
    files["plots/deep/big.bin"] = os.urandom(3 << 20)  # several chunks and upload parts
    for rel, data in files.items():
        (source / rel).write_bytes(data)
    logged = store.log_artifacts(run_id, source, "out")
    assert logged == sorted(f"out/{rel}" for rel in files)
    store.log_text(run_id, "hello", "notes/readme.txt")
    store.flush()

    assert [a.path for a in store.list_artifacts(run_id)] == ["notes", "out"]
    plots = store.list_artifacts(run_id, "out/plots")
    assert [(a.path, a.is_dir) for a in plots] == [
        ("out/plots/deep", True),
        ("out/plots/loss.png", False),
    ]
    assert plots[1].file_size == len(files["plots/loss.png"])

    stored = backend.blobs()
    expected = {hashlib.sha256(d).hexdigest(): d for d in [*files.values(), b"hello"]}
    assert stored == expected

    got = Path(store.download_artifacts(run_id, "out", tmp_path / "dl"))
    assert _tree(got) == files
    assert store.read_artifact(run_id, "notes/readme.txt") == b"hello"
    assert store.read_artifact(run_id, "out/plots/deep/big.bin") == files["plots/deep/big.bin"]
    assert not [p for p in (tmp_path / "dl").rglob("*") if p.name.endswith(".partial")]


def test_a_directory_of_many_small_files(
    store: TrackingClient, run_id: str, backend: Backend, tmp_path: Path
) -> None:
    """More files than one statement records (150), each sent without a lookup first."""
    source = tmp_path / "many"
    files = {f"part-{i:03d}.txt": f"part {i}\n".encode() * (i + 1) for i in range(320)}
    source.mkdir()
    for name, data in files.items():
        (source / name).write_bytes(data)
    assert store.log_artifacts(run_id, source, "many") == [f"many/{n}" for n in sorted(files)]
    assert store.log_artifacts(run_id, source, "again") == [f"again/{n}" for n in sorted(files)]
    store.flush()
    assert len(store.list_artifacts(run_id, "many")) == 320
    assert backend.blobs() == {hashlib.sha256(d).hexdigest(): d for d in files.values()}
    got = Path(store.download_artifacts(run_id, "again", tmp_path / "dl"))
    assert _tree(got) == files


def test_identical_content_is_stored_once(
    store: TrackingClient, run_id: str, backend: Backend
) -> None:
    other = store.create_run("0").info.run_id
    for run in (run_id, other):
        store.log_text(run, "same", "a.txt")
        store.log_text(run, "same", "copy/b.txt")
    store.log_bytes(run_id, b"different", "c.bin")
    store.flush()
    assert set(backend.blobs()) == {
        hashlib.sha256(b"same").hexdigest(),
        hashlib.sha256(b"different").hexdigest(),
    }
    assert store.read_artifact(other, "copy/b.txt") == b"same"


def test_a_changed_blob_is_refused_and_logging_again_repairs_it(
    store: TrackingClient, run_id: str, backend: Backend, tmp_path: Path
) -> None:
    store.log_text(run_id, "genuine", "model.txt")
    store.flush()
    sha = hashlib.sha256(b"genuine").hexdigest()
    backend.overwrite(sha, b"tampered")
    with pytest.raises(ArtifactIntegrityError, match="was changed on disk"):
        store.read_artifact(run_id, "model.txt")
    with pytest.raises(ArtifactIntegrityError):
        store.download_artifacts(run_id, "model.txt", tmp_path / "dl")
    assert not (tmp_path / "dl" / "model.txt").exists()  # nothing unverified left behind
    report = store.verify_artifacts()
    assert [(p.kind, p.used_by) for p in report.problems] == [
        ("damaged", (f"run {run_id} artifact 'model.txt'",))
    ]
    assert sha[2:] in report.problems[0].where

    other = store.create_run("0").info.run_id
    store.log_text(other, "genuine", "again.txt")  # the same content repairs the blob
    store.flush()
    assert backend.blobs()[sha] == b"genuine"
    assert store.read_artifact(run_id, "model.txt") == b"genuine"
    assert store.verify_artifacts().ok


def test_a_blob_of_the_same_size_changed_is_refused_before_the_last_chunk(
    store: TrackingClient, run_id: str, backend: Backend
) -> None:
    data = os.urandom(3 << 20)
    store.log_bytes(run_id, data, "weights.bin")
    store.flush()
    sha = hashlib.sha256(data).hexdigest()
    backend.overwrite(sha, data[:-1] + bytes([data[-1] ^ 1]))
    from nbtrack.server._queries import artifact_file

    _, chunks, size = artifact_file(_sql(store), run_id, "weights.bin")
    assert size == len(data)
    delivered: list[bytes] = []
    with pytest.raises(ArtifactIntegrityError, match="was changed on disk"):
        delivered.extend(chunks)
    assert sum(map(len, delivered)) < len(data)


def test_a_missing_blob_says_so(store: TrackingClient, run_id: str, backend: Backend) -> None:
    store.log_text(run_id, "soon gone", "gone.txt")
    store.flush()
    backend.remove(hashlib.sha256(b"soon gone").hexdigest())
    with pytest.raises(ArtifactIntegrityError, match="is missing from the store"):
        store.read_artifact(run_id, "gone.txt")
    [problem] = store.verify_artifacts().problems
    assert problem.kind == "missing"


def test_paths_never_escape_the_run(
    store: TrackingClient, run_id: str, backend: Backend, store_dir: Path, tmp_path: Path
) -> None:
    for bad in ("../x", "/abs", "a/../../x"):
        with pytest.raises(InvalidInputError):
            store.log_text(run_id, "x", bad)
        with pytest.raises(InvalidInputError):
            store.download_artifacts(run_id, bad, tmp_path / "dl")
    store.log_text(run_id, "fine", "ok.txt")
    store.flush()
    # A store row edited to name a path instead of a sha256 is never used as one.
    with sqlite3.connect(store_dir / "nbtrack.db") as db:
        db.execute("UPDATE artifacts SET sha256 = '../../../etc/passwd'")
    with pytest.raises(ArtifactIntegrityError, match="is not one"):
        store.read_artifact(run_id, "ok.txt")
    with pytest.raises(ArtifactIntegrityError, match="is not one"):
        store.download_artifacts(run_id, "ok.txt", tmp_path / "dl")
    assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").rglob("*"))


def test_gc_removes_unreferenced_blobs_and_dry_run_changes_nothing(
    store: TrackingClient, run_id: str, backend: Backend
) -> None:
    doomed = store.create_run("0").info.run_id
    store.log_text(run_id, "kept", "k.txt")
    store.log_text(doomed, "shared", "s.txt")
    store.log_text(run_id, "shared", "s.txt")
    store.log_text(doomed, "only in the trash", "t.txt")
    store.flush()
    store.delete_run(doomed)
    before = backend.blobs()
    assert len(before) == 3

    preview = store.garbage_collect(grace_seconds=0, dry_run=True)
    assert preview == {"runs": 1, "blobs": 1, "bytes": len(b"only in the trash")}
    assert backend.blobs() == before
    assert store.get_run(doomed).info.lifecycle_stage == "deleted"

    # The run goes for good; its blob is too recent to go yet (another process may
    # be about to record it).
    young = store.garbage_collect(grace_seconds=3600)
    assert young == {"runs": 1, "blobs": 0, "bytes": 0}
    assert len(backend.blobs()) == 3

    freed = len(b"only in the trash")
    assert store.garbage_collect(grace_seconds=0) == {"runs": 0, "blobs": 1, "bytes": freed}
    remaining = backend.blobs()
    assert set(remaining) == {
        hashlib.sha256(b"kept").hexdigest(),
        hashlib.sha256(b"shared").hexdigest(),
    }
    with pytest.raises(NotFoundError):
        store.get_run(doomed)
    assert store.read_artifact(run_id, "s.txt") == b"shared"


def test_cli_download_gc_dry_run_and_verify(
    store: TrackingClient, run_id: str, backend: Backend, tmp_path: Path, store_dir: Path
) -> None:
    source = tmp_path / "data"
    source.mkdir()
    (source / "a.txt").write_text("A")
    (source / "b.bin").write_bytes(os.urandom(1 << 20))
    runner = CliRunner()
    uri = ["--tracking-uri", str(store_dir)]
    logged = runner.invoke(main, [*uri, "artifacts", "log", run_id, str(source), "-p", "data"])
    assert logged.exit_code == 0, logged.output
    assert "2 file(s)" in logged.output
    listed = runner.invoke(main, [*uri, "artifacts", "list", run_id, "data"])
    assert listed.exit_code == 0, listed.output
    assert "data/a.txt" in listed.output
    assert "data/b.bin" in listed.output
    out = tmp_path / "out"
    got = runner.invoke(main, [*uri, "artifacts", "download", run_id, "data", "-d", str(out)])
    assert got.exit_code == 0, got.output
    assert _tree(out / "data") == _tree(source)

    store.delete_run(run_id)
    dry = runner.invoke(main, [*uri, "gc", "--grace", "0", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would remove 1 deleted run(s) and 2 unreferenced blob(s)" in dry.output
    assert len(backend.blobs()) == 2
    done = runner.invoke(main, [*uri, "gc", "--grace", "0", "--verify"])
    assert done.exit_code == 0, done.output
    assert "2 blob(s) checked, all intact." in done.output
    assert backend.blobs() == {}


@pytest.mark.slow
def test_large_uploads_stream(store: TrackingClient, run_id: str, tmp_path: Path) -> None:
    """A 64 MiB file is stored holding a bounded amount (an upload block or so), not the file."""
    big = tmp_path / "big.bin"
    chunk = os.urandom(1 << 20)
    with big.open("wb") as out:
        for _ in range(64):
            out.write(chunk)
    tracemalloc.start()
    try:
        store.log_artifact(run_id, big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20, f"logging a 64 MiB file held {peak >> 20} MiB at once"
    store.flush()
    seen = hashlib.sha256()
    for piece in _sql(store).blobs.chunks(hashlib.sha256(chunk * 64).hexdigest()):
        seen.update(piece)
    assert seen.hexdigest() == hashlib.sha256(chunk * 64).hexdigest()


def test_models_load_from_the_backend(store: TrackingClient, backend: Backend) -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    import numpy as np

    import nbtrack.sklearn

    x = np.arange(20, dtype=float).reshape(10, 2)
    model = sklearn.LinearRegression().fit(x, x[:, 0] * 2)
    with nbtrack.start_run() as run:
        nbtrack.sklearn.log_model(model, "model")
    nbtrack.flush()
    assert backend.blobs()  # the model's files went to the backend
    loaded = nbtrack.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert np.allclose(loaded.predict(x), model.predict(x))
    version = nbtrack.register_model(f"runs:/{run.info.run_id}/model", "reg")
    pyfunc = nbtrack.pyfunc.load_model(f"models:/reg/{version.version}")
    assert np.allclose(pyfunc.predict(x), model.predict(x))


def test_uploads_run_in_parallel(
    store: TrackingClient, run_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from nbtrack.store import artifacts

    source = tmp_path / "many"
    source.mkdir()
    for i in range(16):
        (source / f"{i}.txt").write_text(str(i) * 100)
    seen: set[str] = set()
    real = type(_sql(store).blobs).put_file

    def put_file(self: Any, path: Path, progress: Any = None) -> tuple[str, int]:
        seen.add(threading.current_thread().name)
        time.sleep(0.01)  # long enough for the pool to hand files to several threads
        return real(self, path, progress)

    monkeypatch.setattr(type(_sql(store).blobs), "put_file", put_file)
    assert len(store.log_artifacts(run_id, source)) == 16
    assert len(seen) > 1
    assert all(name.startswith("nbtrack-blobs") for name in seen)
    assert artifacts.TRANSFER_WORKERS > 1


# -- roots ----------------------------------------------------------------------------


def test_an_experiment_location_holds_its_runs_blobs(
    client: TrackingClient, s3_bucket: str, moto_s3: str, store_dir: Path, tmp_path: Path
) -> None:
    remote = s3_backend(moto_s3, s3_bucket, "vision")
    local = Backend("local", str(store_dir / "artifacts"))
    exp = client.create_experiment("vision", artifact_location=f"s3://{s3_bucket}/vision/")
    assert client.get_experiment(exp).artifact_location == f"s3://{s3_bucket}/vision/"
    away = client.create_run(exp).info.run_id
    home = client.create_run("0").info.run_id
    client.log_text(away, "in the bucket", "a.txt")
    client.log_text(home, "beside the database", "b.txt")
    client.flush()
    assert list(remote.blobs().values()) == [b"in the bucket"]
    assert list(local.blobs().values()) == [b"beside the database"]
    assert client.read_artifact(away, "a.txt") == b"in the bucket"
    got = Path(client.download_artifacts(away, "a.txt", tmp_path / "dl"))
    assert got.read_bytes() == b"in the bucket"
    assert client.verify_artifacts().ok
    # A reopened store (another process) finds the experiment's root again.
    close_all()
    again = TrackingClient(store_dir)
    assert again.read_artifact(away, "a.txt") == b"in the bucket"
    again.delete_run(away)
    assert again.garbage_collect(grace_seconds=0)["blobs"] == 1  # swept in the bucket
    assert remote.blobs() == {}
    assert list(local.blobs().values()) == [b"beside the database"]


@pytest.mark.parametrize(
    ("scheme", "module", "extra"),
    [
        ("s3", "s3fs", "nbtrack[s3]"),
        ("gs", "gcsfs", "nbtrack[gcs]"),
        ("az", "adlfs", "nbtrack[azure]"),
    ],
)
def test_a_missing_filesystem_package_names_the_extra(
    client: TrackingClient,
    monkeypatch: pytest.MonkeyPatch,
    store_dir: Path,
    scheme: str,
    module: str,
    extra: str,
) -> None:
    import importlib
    import sys

    loaded = importlib.import_module("fsspec.registry")._registry  # classes imported so far
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    for name in list(loaded):
        monkeypatch.delitem(loaded, name)
    with pytest.raises(InvalidInputError, match=re.escape(f"pip install '{extra}'")):
        client.create_experiment("far", artifact_location=f"{scheme}://bucket/prefix")
    close_all()
    monkeypatch.setenv(locate.ENV_ARTIFACT_ROOT, f"{scheme}://bucket/prefix")
    with pytest.raises(InvalidInputError, match=re.escape(f"pip install '{extra}'")):
        TrackingClient(store_dir).create_run("0")


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("s3://", "names no bucket"),
        ("s3://bucket/../other", "'..'"),
        ("s3://bucket/./x", "'..'"),
        ("file://host/x", "names a host"),
        ("nosuchscheme://bucket/x", "fsspec does not know"),
        ("", "is empty"),
    ],
)
def test_bad_roots_are_refused_with_the_fix(
    client: TrackingClient, root: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        client.create_experiment("elsewhere", artifact_location=root)
    assert [e.name for e in client.search_experiments()] == ["Default"]


def test_the_root_record_is_not_a_user_tag(client: TrackingClient, tmp_path: Path) -> None:
    exp = client.create_experiment(
        "here", artifact_location=str(tmp_path / "blobs"), tags={"t": "1"}
    )
    assert client.get_experiment(exp).tags == {"t": "1"}
    with pytest.raises(InvalidInputError, match="set only by create_experiment"):
        client.set_experiment_tag(exp, "nbtrack.artifact_root", "s3://elsewhere/x")
    run = client.create_run(exp).info.run_id
    client.log_text(run, "x", "x.txt")
    client.flush()
    assert (tmp_path / "blobs" / hashlib.sha256(b"x").hexdigest()[:2]).is_dir()


def _cli_in_a_terminal(args: list[str], cwd: Path, terminal: bool) -> tuple[int, str, str]:
    """Run the command line in a process whose stderr is a terminal (a pty) or a pipe.

    Returns the exit code, stdout, and what reached stderr.
    """
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    command = [sys.executable, "-c", "from nbtrack.cli import main; main()", *args]
    if not terminal:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    # A terminal of 100 columns (a new pty has none, and tqdm fits its bar to the width).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    with subprocess.Popen(
        command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower
    ) as process:
        os.close(follower)
        seen = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not data:
                break
            seen.append(data)
        os.close(leader)
        assert process.stdout is not None
        out = process.stdout.read().decode()
        code = process.wait(60)
    return code, out, b"".join(seen).decode(errors="replace")


def test_cli_transfers_draw_a_progress_bar_on_a_terminal_only(
    run_id: str, backend: Backend, store_dir: Path, tmp_path: Path
) -> None:
    from nbtrack._cli_artifacts import PROGRESS_MIN_BYTES

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(PROGRESS_MIN_BYTES + (1 << 20)))
    small = tmp_path / "small.txt"
    small.write_text("small")
    uri = ["--tracking-uri", str(store_dir)]
    for name, terminal in (("big.bin", True), ("small.txt", True), ("big.bin", False)):
        source = big if name == "big.bin" else small
        code, out, err = _cli_in_a_terminal(
            [*uri, "artifacts", "log", run_id, str(source), "-p", f"t{int(terminal)}"],
            tmp_path,
            terminal,
        )
        assert code == 0, out + err
        assert "Logged 1 file(s)" in out
        assert "%|" not in out  # never on stdout
        drew = "upload: 100%|" in err
        assert drew == (terminal and name == "big.bin"), (name, terminal, err[-500:])
        code, out, err = _cli_in_a_terminal(
            [*uri, "artifacts", "download", run_id, f"t{int(terminal)}/{name}", "-d", "dl"],
            tmp_path,
            terminal,
        )
        assert code == 0, out + err
        assert ("download: 100%|" in err) == (terminal and name == "big.bin"), err[-500:]
        assert (tmp_path / "dl" / f"t{int(terminal)}" / name).read_bytes() == source.read_bytes()
    assert len(backend.blobs()) == 2


@pytest.mark.postgres
def test_a_shared_postgresql_store_finds_its_bucket_on_every_machine(
    s3_root: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The creator's NBTRACK_ARTIFACT_ROOT is recorded in the store: another process
    (another machine of the team) that has only the database URI reads the bucket."""
    import subprocess
    import sys

    from _postgres import fresh_schema

    with fresh_schema() as uri:
        creator = TrackingClient(uri)
        run_id = creator.create_run("0").info.run_id
        creator.log_text(run_id, "shared", "notes/a.txt")
        creator.flush()
        assert list(s3_root.blobs().values()) == [b"shared"]
        close_all()
        monkeypatch.delenv(locate.ENV_ARTIFACT_ROOT)
        reader = (
            "import sys; from nbtrack import TrackingClient\n"
            "c = TrackingClient(sys.argv[1])\n"
            "print(c.blobs.url)\n"
            "print(c.read_artifact(sys.argv[2], 'notes/a.txt').decode())\n"
            "print(c.verify_artifacts().ok)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", reader, uri, run_id],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [s3_root.root, "shared", "True"]
