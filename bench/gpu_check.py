"""GPU check on a machine with an NVIDIA GPU: system metrics sampled during a small training.

Usage (needs torch with CUDA and ``pip install nvidia-ml-py``)::

    PYTHONPATH=src python bench/gpu_check.py            # 20 s of training
    PYTHONPATH=src python bench/gpu_check.py --seconds 60

In a fresh temp store, it starts a run with ``log_system_metrics=True`` and a
0.5 s sampling interval, trains a small MLP on random data on ``cuda:0`` for
the given time, ends the run, and prints: the GPU names NVML reports (what the
environment capture stores as ``nbtrack.gpus``), every ``system/gpu_*`` key
with its number of points and min / max / last, and the CPU and process keys
for comparison. It exits 1 if no GPU metric was logged (NVML missing, no
GPU), 0 otherwise. Nothing is written outside the temp directory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    import torch

    import nbtrack
    from nbtrack.notebook._environment import gpu_names

    names = gpu_names()
    print(f"NVML GPU names (environment capture): {names or 'none'}")
    print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to train on the GPU")
        return 1
    device = torch.device("cuda:0")
    print(f"training on {torch.cuda.get_device_name(0)}")
    with tempfile.TemporaryDirectory() as tmp:
        nbtrack.set_tracking_uri(Path(tmp) / ".nbtrack")
        nbtrack.set_system_metrics_sampling_interval(0.5)
        model = torch.nn.Sequential(
            torch.nn.Linear(1024, 4096), torch.nn.ReLU(), torch.nn.Linear(4096, 10)
        ).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        x = torch.randn(4096, 1024, device=device)
        y = torch.randint(0, 10, (4096,), device=device)
        steps = 0
        with nbtrack.start_run(log_system_metrics=True) as run:
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
                steps += 1
                if steps % 50 == 0:
                    torch.cuda.synchronize()
                    nbtrack.log_metric("loss", loss.item(), step=steps)
            torch.cuda.synchronize()
        client = nbtrack.TrackingClient()
        keys = sorted(client.get_run(run.info.run_id).data.metrics)
        print(f"{steps} training steps in {args.seconds:.0f} s")
        gpu_keys = [k for k in keys if k.startswith("system/gpu_")]
        other = [k for k in keys if k.startswith("system/") and k not in gpu_keys]
        for key in gpu_keys + [k for k in other if "cpu" in k or "process_memory_rss" in k]:
            values = [m.value for m in client.get_metric_history(run.info.run_id, key)]
            print(
                f"  {key}: {len(values)} points, min {min(values):.1f}, "
                f"max {max(values):.1f}, last {values[-1]:.1f}"
            )
        nbtrack.set_tracking_uri(None)
    if not gpu_keys:
        print("no system/gpu_* metric was logged (is nvidia-ml-py installed?)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
