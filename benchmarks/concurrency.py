"""How much of Close's latency the concurrent runner hides, measured in one run.

Starts the sandbox in its own process with a simulated latency, then runs the real command
against it once one request at a time (the baseline: how a plain loop, like the official
client's, works) and once per concurrency level, and prints rows per second and the speed-up.

    python benchmarks/concurrency.py --rows 400 --latency-ms 100
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_input(folder: Path, rows: int) -> Path:
    path = folder / "bench.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "text"])
        for number in range(rows):
            writer.writerow([f"acti_{number:043d}", f"Benchmark text {number}"])
    return path


def start_sandbox(seed: Path, latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "batch_sms", "sandbox", str(seed), "--port", "0"]
        + ["--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert server.stdout is not None
    base_url = server.stdout.readline().strip().rsplit(" ", 1)[-1]
    return server, base_url


def timed_run(source: Path, base_url: str, concurrency: int, folder: Path) -> float:
    out = folder / f"results-{concurrency}.csv"
    command = [sys.executable, "-m", "batch_sms", "run", str(source), "--out", str(out)]
    command += ["--overwrite", "--quiet", "--base-url", base_url, "--api-key", "sandbox_api_key"]
    command += ["--concurrency", str(concurrency)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--levels", default="8,32", help="concurrency levels to compare")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        source = write_input(folder, args.rows)
        server, base_url = start_sandbox(source, args.latency_ms)
        try:
            baseline = timed_run(source, base_url, 1, folder)
            print(f"{args.rows} rows, {args.latency_ms:g} ms latency, {os.cpu_count()} cores")
            print(f"{'concurrency':>12} {'seconds':>8} {'rows/s':>8} {'speed-up':>9}")
            print(f"{1:>12} {baseline:>8.2f} {args.rows / baseline:>8.1f} {1:>8.1f}x")
            for level in (int(level) for level in args.levels.split(",")):
                seconds = timed_run(source, base_url, level, folder)
                rate = args.rows / seconds
                print(f"{level:>12} {seconds:>8.2f} {rate:>8.1f} {baseline / seconds:>8.1f}x")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
