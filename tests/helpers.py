"""Running the CLIs as a user would, from the project root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forget_conformance.cli", *args], cwd=ROOT, text=True,
        capture_output=True, timeout=timeout, env=dict(os.environ, **(env or {})))


def failing(report_path: Path) -> set[str]:
    doc = json.loads(report_path.read_text())
    return {c["id"] for c in doc["clauses"] if c["status"] == "fail"}
