"""The one worker protocol: run a job in a fresh Python process and get its JSON result back.

Builds (quantization, IR conversion, engine building) and measurements run in workers, so that
a crash in a native library fails that job only, and each measurement gets a process of its own
(peak memory is per process, thread pools do not mix; see :mod:`mgdn_edge.pipeline.bench`). A job is a
``kind`` from :data:`JOBS` and a JSON object; the worker writes the job function's JSON result,
or an ``error: ...`` line and status 2 for an :class:`MgdnEdgeError`. Any failure reaches the
caller as one :class:`WorkerError` line: the ``error:`` line, the last line of a traceback, or
the signal that killed the worker.

``python -m mgdn_edge.pipeline.worker KIND JOB.json OUT.json``
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import MgdnEdgeError, one_line

# kind -> "module:function(job: dict) -> dict", imported only inside the worker.
JOBS = {
    "measure": "mgdn_edge.pipeline.bench:measure_job",
    "build": "mgdn_edge.pipeline.build:run_build_job",
    "divergence": "mgdn_edge.pipeline.diverge:divergence_job",
}
DEFAULT_TIMEOUT_S = 1800.0


class WorkerError(MgdnEdgeError):
    """A job could not be done: the worker failed, timed out or was killed."""


def failure_line(log: str, returncode: int) -> str:
    """The one-line reason a worker failed: its ``error:`` line, else its last line, else the signal."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    if errors:
        return errors[-1][len("error: ") :]
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"worker killed by {signal.Signals(-returncode).name}"
        return f"worker killed by signal {-returncode}"
    tail = next((ln for ln in reversed(lines) if not ln.startswith(("warnings.warn", "File "))), None)
    return tail or f"worker exited with status {returncode}"


def run_in_worker(
    kind: str, job: dict[str, Any], log_path: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any]:
    """Run ``job`` of ``kind`` in a fresh interpreter (output to ``log_path``); return its result."""
    if kind not in JOBS:
        raise WorkerError(f"unknown worker job {kind!r}; known: {', '.join(JOBS)}")
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mgdn_worker_")))
        job_file, out_file = tmp / "job.json", tmp / "result.json"
        job_file.write_text(json.dumps(job))
        if log_path is None:
            log = stack.enter_context(tempfile.TemporaryFile("w+"))
        else:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(open(log_path, "w+"))
        command = [sys.executable, "-m", __name__, kind, str(job_file), str(out_file)]
        try:
            proc = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise WorkerError(f"timed out after {timeout_s:.0f} s") from None
        if proc.returncode != 0:
            log.seek(0)
            raise WorkerError(failure_line(log.read(), proc.returncode))
        try:
            return json.loads(out_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise WorkerError(f"the {kind} worker wrote no readable result: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] not in JOBS:
        print(f"usage: python -m {__name__} {{{','.join(JOBS)}}} JOB.json OUT.json", file=sys.stderr)
        return 2
    from mgdn_edge.runtimes.backends import load_attribute

    try:
        result = load_attribute(JOBS[args[0]])(json.loads(Path(args[1]).read_text()))
    except MgdnEdgeError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    Path(args[2]).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
