"""log_artifacts never copies what a symlink outside the logged directory points to."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nbtrack import NbtrackWarning, TrackingClient

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory with a file, a subdirectory, and links of every kind."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the logged directory")
    (outside / "more.txt").write_text("also outside")
    root = tmp_path / "results"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (root / "link_in.txt").symlink_to("sub/b.txt")  # a file inside: logged as a file
    (root / "sub" / "up.txt").symlink_to("../a.txt")  # inside, through '..'
    (root / "leak.txt").symlink_to(outside / "secret.txt")  # absolute, outside
    (root / "sub" / "sneak.txt").symlink_to("../../outside/more.txt")  # relative, outside
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "loop").symlink_to(".", target_is_directory=True)  # a directory inside
    (root / "dangling.txt").symlink_to("nowhere.txt")
    (root / "ping").symlink_to("pong")  # a loop of links
    (root / "pong").symlink_to("ping")
    return root


def test_links_are_followed_only_to_files_inside(client: TrackingClient, tree: Path) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.warns(NbtrackWarning) as caught:
        logged = client.log_artifacts(run_id, tree, "out")
    assert logged == ["out/a.txt", "out/link_in.txt", "out/sub/b.txt", "out/sub/up.txt"]
    assert client.read_artifact(run_id, "out/link_in.txt") == b"b"
    assert client.read_artifact(run_id, "out/sub/up.txt") == b"a"
    [warning] = caught
    message = str(warning.message)
    for name in ("leak.txt", "sub/sneak.txt", "outdir", "loop", "dangling.txt", "ping", "pong"):
        assert name in message, name
    assert "(outside the directory)" in message
    assert warning.filename == __file__  # points at the caller's line
    stored = b"".join(client.read_artifact(run_id, p) for p in logged)
    assert b"outside" not in stored


def test_a_directory_without_links_logs_quietly(client: TrackingClient, tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f.txt").write_text("f")
    run_id = client.create_run("0").info.run_id
    assert client.log_artifacts(run_id, tmp_path / "d") == ["e/f.txt"]  # warnings are errors


def test_a_linked_root_is_logged(client: TrackingClient, tree: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(tree / "sub", target_is_directory=True)
    run_id = client.create_run("0").info.run_id
    # sub/up.txt points to ../a.txt: outside the logged directory (sub) this time.
    with pytest.warns(NbtrackWarning, match=r"up\.txt -> \.\./a\.txt \(outside"):
        assert client.log_artifacts(run_id, alias) == ["b.txt"]
