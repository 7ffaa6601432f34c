"""Artifact upload and download throughput: nbtrack and MLflow, to a local root and to S3.

Usage::

    python bench/bench_artifacts.py              # 256 MiB file; 1,000 files of 10 kB; 3 tries
    python bench/bench_artifacts.py --quick      # 32 MiB; 200 files; 1 try
    python bench/bench_artifacts.py --big-mib 64 --small 500 --tries 2 --port 55601

S3 is moto's server (``python -m moto.server``), started here on 127.0.0.1
(``--port``, the first free one from there up); nothing else is reached. The
same two workloads go to four places, one fresh process per try (so that
each process's peak memory is its own):

* ``nbtrack local``: a SQLite store, blobs in ``artifacts/`` beside it;
* ``nbtrack s3``: the same, ``NBTRACK_ARTIFACT_ROOT=s3://<bucket>/nbtrack``;
* ``mlflow local``: MLflow's SQLite tracking store, artifacts in a directory;
* ``mlflow s3``: MLflow with an experiment whose ``artifact_location`` is
  ``s3://<bucket>/mlflow`` (what ``--default-artifact-root s3://...`` gives
  every experiment), ``MLFLOW_S3_ENDPOINT_URL`` pointing at moto.

Workloads: **large**, one random file (``log_artifact`` / ``download_artifacts``
of it); **small**, a directory of many random 10 kB files (``log_artifacts`` /
``download_artifacts`` of the directory). nbtrack's uploads include the final
``flush``. Each place gets a new bucket (emptied and removed after each try, so
moto's memory stays small) and the sources are written once and shared, so
every try uploads the same bytes to an empty root.

Memory: the process's peak resident set during each transfer (``VmHWM`` of
``/proc/self/status``, reset through ``/proc/self/clear_refs`` just before),
shown as its growth over the resident set before the transfer: how much a
transfer holds at once.

Printed: MB/s (large) and files/s (small) per place and direction (the best
of the tries), memory growth, and the ratios nbtrack / MLflow on the same
root (of the best tries, and of the medians). Results go to
``bench/results/artifacts.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
RESULTS = Path(__file__).resolve().parent / "results"
PLACES = ("nbtrack local", "nbtrack s3", "mlflow local", "mlflow s3")
SMALL_BYTES = 10_000


# -- memory of this process ----------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> bool:
    """Start a new peak resident set (Linux: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _measured(work: Any) -> dict[str, float]:
    """Run ``work()``; its wall time and how far the resident set rose above where it was."""
    import resource

    exact = _reset_peak()
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    # Without clear_refs, the whole process's peak: an upper bound.
    peak = _status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "rss_growth_mib": max(0, peak - before) / 1024}


# -- one try, in its own process -----------------------------------------------------


def child(place: str, workload: str, source: Path, bucket: str, work: Path) -> dict[str, Any]:
    """Upload then download ``source`` at ``place``; timings and memory of each."""
    tool, root = place.split()
    if tool == "nbtrack":
        if root == "s3":
            os.environ["NBTRACK_ARTIFACT_ROOT"] = f"s3://{bucket}/nbtrack"
        sys.path.insert(0, str(SRC))
        from nbtrack import TrackingClient

        client = TrackingClient(str(work / "store"))
        run_id = client.create_run("0").info.run_id
        client.flush()

        def upload() -> None:
            if workload == "large":
                client.log_artifact(run_id, source)
            else:
                client.log_artifacts(run_id, source, "many")
            client.flush()

        def download() -> None:
            client.download_artifacts(run_id, source.name if workload == "large" else "many",
                                      work / "down")  # fmt: skip

    else:
        import mlflow
        from mlflow import MlflowClient

        uri = f"sqlite:///{work / 'mlflow.db'}"
        client = MlflowClient(uri)
        location = f"s3://{bucket}/mlflow" if root == "s3" else (work / "mlruns").as_uri()
        experiment = client.create_experiment("bench", artifact_location=location)
        run_id = client.create_run(experiment).info.run_id

        def upload() -> None:
            if workload == "large":
                client.log_artifact(run_id, str(source))
            else:
                client.log_artifacts(run_id, str(source), "many")

        def download() -> None:
            mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=source.name if workload == "large" else "many",
                dst_path=str(work / "down"),
                tracking_uri=uri,
            )

    up = _measured(upload)
    down = _measured(download)
    got = work / "down" / (source.name if workload == "large" else "many")
    files = [p for p in got.rglob("*") if p.is_file()] if got.is_dir() else [got]
    return {"upload": up, "download": down, "files": len(files),
            "bytes": sum(p.stat().st_size for p in files)}  # fmt: skip


# -- the parent: moto, sources, tries, report ----------------------------------------


def _free_port(first: int) -> int:
    for port in range(first, first + 100):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {first}..{first + 99} for moto")


def start_moto(port: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server on 127.0.0.1:port, ready; its endpoint URL."""
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310
                return server, endpoint
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise SystemExit(f"moto did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def write_sources(base: Path, big_mib: int, small: int) -> dict[str, Path]:
    """One random file of ``big_mib`` MiB and a directory of ``small`` random 10 kB files."""
    big = base / "big.bin"
    with big.open("wb") as out:
        for _ in range(big_mib):
            out.write(os.urandom(1 << 20))
    many = base / "many"
    many.mkdir()
    for i in range(small):
        (many / f"part-{i:05d}.bin").write_bytes(os.urandom(SMALL_BYTES))
    return {"large": big, "small": many}


def _empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=bucket)


def one_try(place: str, workload: str, source: Path, base: Path, s3: Any) -> dict[str, Any]:
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    work = Path(tempfile.mkdtemp(dir=base))
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", place, workload, str(source), bucket,
             str(work)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{place} {workload} failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    finally:
        _empty_bucket(s3, bucket)
        shutil.rmtree(work, ignore_errors=True)


def _best(tries: list[dict[str, Any]], direction: str) -> dict[str, float]:
    seconds = [t[direction]["seconds"] for t in tries]
    return {
        "seconds": min(seconds),
        "median_seconds": statistics.median(seconds),
        "rss_growth_mib": max(t[direction]["rss_growth_mib"] for t in tries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 MiB, 200 files, 1 try")
    parser.add_argument("--big-mib", type=int, default=None, help="size of the large file")
    parser.add_argument("--small", type=int, default=None, help="how many 10 kB files")
    parser.add_argument("--tries", type=int, default=None, help="tries of each case (best)")
    parser.add_argument("--port", type=int, default=55600, help="moto's port (or next free)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        place, workload, source, bucket, work = args.child
        print(json.dumps(child(place, workload, Path(source), bucket, Path(work))))
        return
    big_mib = args.big_mib or (32 if args.quick else 256)
    small = args.small or (200 if args.quick else 1000)
    tries = args.tries or (1 if args.quick else 3)

    import boto3

    base = Path(tempfile.mkdtemp(prefix="nbtrack-bench-artifacts-"))
    server, endpoint = start_moto(_free_port(args.port), base / "moto.log")
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        MLFLOW_S3_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's dummy key
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    s3 = boto3.client("s3", endpoint_url=endpoint)
    results: dict[str, Any] = {}
    try:
        sources = write_sources(base, big_mib, small)
        each = f"{tries} tr{'y' if tries == 1 else 'ies'} each, best shown"
        print(f"large: one {big_mib} MiB file; small: {small} files of {SMALL_BYTES:,} B; {each}")
        for workload, source in sources.items():
            for place in PLACES:
                found = [one_try(place, workload, source, base, s3) for _ in range(tries)]
                large = workload == "large"
                expected = (1, big_mib << 20) if large else (small, small * SMALL_BYTES)
                got = (found[0]["files"], found[0]["bytes"])
                assert got == expected, f"{place} {workload} downloaded {got}, not {expected}"
                results[f"{place} {workload}"] = {
                    d: _best(found, d) for d in ("upload", "download")
                } | {"tries": found}
                shown = [
                    f"{_rate(workload, results[f'{place} {workload}'][d], big_mib, small):>14} "
                    f"{d} (+{results[f'{place} {workload}'][d]['rss_growth_mib']:.0f} MiB)"
                    for d in ("upload", "download")
                ]
                print(f"  {place:13} {workload:5} {'  '.join(shown)}", flush=True)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(base, ignore_errors=True)

    print("\nratios (nbtrack / MLflow throughput on the same root; >1: nbtrack is faster)")
    for workload in ("large", "small"):
        for root in ("local", "s3"):
            ours = results[f"nbtrack {root} {workload}"]
            theirs = results[f"mlflow {root} {workload}"]
            shown = [
                f"{d} {theirs[d]['seconds'] / ours[d]['seconds']:.2f}x "
                f"(medians {theirs[d]['median_seconds'] / ours[d]['median_seconds']:.2f}x)"
                for d in ("upload", "download")
            ]
            print(f"  {workload:5} {root:5} {'  '.join(shown)}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "artifacts.json"
    machine = {"python": sys.version, "platform": platform.platform(), "cpus": os.cpu_count(),
               "load_average": os.getloadavg()}  # fmt: skip
    out.write_text(json.dumps({"big_mib": big_mib, "small": small, "tries": tries,
                               "machine": machine, "results": results}, indent=1))  # fmt: skip
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; wrote {out}")


def _rate(workload: str, timing: dict[str, float], big_mib: int, small: int) -> str:
    if workload == "large":
        return f"{big_mib * (1 << 20) / 1e6 / timing['seconds']:,.0f} MB/s"
    return f"{small / timing['seconds']:,.0f} files/s"


if __name__ == "__main__":
    main()
