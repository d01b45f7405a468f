"""The GPU check of ``.bundle/gpu-check.sh``: every suite and the benchmark, one summary.

``python -m forget_conformance.gpu_check OUTDIR [--device gpu|cpu]`` runs, each in a
child process: ``forget-conformance --suite all`` on the reference and on upstream (with
its known deviations), on CPU and GPU (``--device all``; this includes the cross-device
fuzz suite), then ``forget-bench`` on the GPU beside its memory model (main table only, few
timing rounds: memory is the point here). ``--device cpu`` is
the dry run for a machine without a GPU. OUTDIR receives exactly :data:`FILES`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from forget_conformance.interrupts import stop_group

FILES = ("summary.md", "log.txt", "reference.json", "reference.xml", "upstream.json",
         "upstream.xml", "bench.json", "bench.txt")
TIME_LIMIT_S = 450  # all steps together; the install and the summary fit in what is left of 8 min
_CLI = "import sys; from forget_conformance.{0} import main; sys.exit(main(sys.argv[1:]))"


def steps(out: Path, device: str) -> list[tuple[str, list[str], Path | None]]:
    """(name, argv, file its stdout goes to) of each run."""
    suites = "all" if device == "gpu" else "cpu"
    conformance = [sys.executable, "-c", _CLI.format("cli"), "--suite", "all",
                   "--device", suites, "--jobs", str(min(4, os.cpu_count() or 1))]
    return [
        ("reference", conformance + ["--impl", "reference",
                                     "--report-json", str(out / "reference.json"),
                                     "--junit-xml", str(out / "reference.xml")], None),
        ("upstream", conformance + ["--impl", "chainer", "--known-deviations", "chainer-7.8.1",
                                    "--report-json", str(out / "upstream.json"),
                                    "--junit-xml", str(out / "upstream.xml")], None),
        ("bench", [sys.executable, "-c", _CLI.format("bench.cli"), "--impl", "reference",
                   "--device", device, "--sweep", "--repeats", "3", "--time-budget", "0.1",
                   "--json", str(out / "bench.json")], out / "bench.txt"),
    ]


def device_name(device: str) -> str:
    """The GPU's name and CUDA versions, or the CPU's description."""
    if device == "cpu":
        return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    import cupy

    runtime = cupy.cuda.runtime
    name = runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return (f"{name} (CUDA driver {runtime.driverGetVersion()}, "
            f"runtime {runtime.runtimeGetVersion()})")


def _clause_rows(out: Path) -> list[str]:
    reports = {}
    for impl in ("reference", "upstream"):
        path = out / f"{impl}.json"
        reports[impl] = json.loads(path.read_text()) if path.exists() else {"clauses": []}
    by_id = {impl: {c["id"]: c for c in doc["clauses"]} for impl, doc in reports.items()}
    ids = list(dict.fromkeys(c for doc in by_id.values() for c in doc))
    rows = ["| clause | reference | upstream |", "|---|---|---|"]
    for cid in ids:
        cells = [by_id[impl].get(cid, {}).get("status", "-") for impl in by_id]
        rows.append(f"| {cid} | " + " | ".join(cells) + " |")
    versions: dict = next((doc["versions"] for doc in reports.values() if "versions" in doc),
                          {})
    return ["versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""] + rows


def _bench_rows(out: Path) -> list[str]:
    path = out / "bench.json"
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    ratios = [r["ratios"] for r in rows if not r.get("error") and r.get("ratios")]
    kept = [x["retained_vs_model"] for x in ratios if x.get("retained_vs_model") is not None]
    peak = [x["peak_vs_model"] for x in ratios if x.get("peak_vs_model") is not None]
    failed = sum(1 for r in rows if r.get("error"))
    if not kept:
        return [f"bench: no measured rows ({failed} failed)"]
    return [f"bench: {len(rows)} rows, {failed} failed; kept/model "
            f"{min(kept):.4f}-{max(kept):.4f}, peak/model {min(peak):.4f}-{max(peak):.4f}"]


def summary(out: Path, device: str, results: list[tuple[str, int, float]]) -> str:
    """The one-page summary: device, versions, exit codes and seconds, per-clause results."""
    lines = [f"# forget-conformance GPU check (--device {device})", "",
             f"device: {device_name(device)}", ""]
    lines += [f"- {name}: exit {rc}, {seconds:.1f} s" for name, rc, seconds in results]
    lines += [""] + _clause_rows(out) + [""] + _bench_rows(out)
    return "\n".join(lines) + "\n"


def _run_step(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Exit status and output; past ``timeout`` the run and its children are killed (124)."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output = proc.communicate(timeout=timeout)[0]
        return proc.returncode, output
    except subprocess.TimeoutExpired:
        stop_group(proc, grace=0)
        return 124, proc.communicate()[0] + "(timed out)\n"


def run(out: Path, device: str) -> int:
    """Run every step (within :data:`TIME_LIMIT_S`), log it, write the summary; 0 when every
    step exited 0."""
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + TIME_LIMIT_S
    results = []
    with open(out / "log.txt", "w", encoding="utf-8") as log, \
            tempfile.TemporaryDirectory(prefix="forget-gpu-check-") as tmp:
        env = dict(os.environ, FORGET_FUZZ_FAILURES=str(Path(tmp) / "fuzz-failures"),
                   FORGET_FUZZ_DATABASE=str(Path(tmp) / "hypothesis"))
        for name, argv, stdout_path in steps(out, device):
            log.write(f"==== {name}: {' '.join(argv[3:])}\n")
            log.flush()
            start = time.monotonic()
            rc, text = _run_step(argv, env, timeout=max(1.0, deadline - start))
            if stdout_path is not None:
                stdout_path.write_text(text, encoding="utf-8")
            results.append((name, rc, time.monotonic() - start))
            log.write(text + f"==== {name}: exit {rc}, {results[-1][2]:.1f} s\n")
            print(f"gpu-check: {name}: exit {rc}, {results[-1][2]:.1f} s", flush=True)
        for script in sorted((Path(tmp) / "fuzz-failures").glob("*.py")):
            log.write(f"==== fuzz reproducer {script.name}\n{script.read_text()}\n")
    (out / "summary.md").write_text(summary(out, device, results), encoding="utf-8")
    return 0 if all(rc == 0 for _, rc, _ in results) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gpu-check", description=__doc__.splitlines()[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--device", choices=("gpu", "cpu"), default="gpu",
                   help="cpu: the dry run on a machine without a GPU")
    args = p.parse_args(argv)
    if args.device == "gpu":
        from forget_conformance import devices

        reason = devices.gpu_unavailable_reason()
        if reason is not None:
            print(f"gpu-check: error: {reason} (use --device cpu for the dry run)",
                  file=sys.stderr)
            return 2
    return run(args.outdir, args.device)


if __name__ == "__main__":
    sys.exit(main())
