"""Helpers of the fault-injection suite: real `ctk` subprocesses, and the processes they leave behind.

Every subprocess gets a unique ``CTK_FAULT_MARK`` in its environment, which its forkserver, resource
tracker and workers inherit; scanning ``/proc/*/environ`` for it finds every process a run started,
even after the parent was killed and its children were re-parented.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import synth, write_audio

REPO = Path(__file__).resolve().parents[2]


def short_tracks(root: Path, n: int, *, seconds: float = 6.0) -> Path:
    """``n`` distinct WAV tracks of a few seconds (one fragment each) in ``root``."""
    for i in range(n):
        write_audio(root / f"t{i:02d}.wav", synth(seconds, freq=180 + 17 * i, seed=i))
    return root


class CtkProcess:
    """``python -m cluster_toolkit.cli.main ARGS`` as a real process, with a mark to find its children."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, preexec_fn=None, **popen) -> None:
        self.mark = uuid.uuid4().hex
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), "CTK_FAULT_MARK": self.mark,
                    "COLUMNS": "200", **(env or {})}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cluster_toolkit.cli.main", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, cwd=REPO,
            preexec_fn=_with_default_sigint(preexec_fn), **popen,
        )  # fmt: skip
        self.pid = self.proc.pid

    def finish(self, timeout: float = 240.0) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def family(self) -> list[int]:
        """Pids of every live process that carries this run's mark (the run itself included)."""
        return marked_processes(self.mark)

    def kill_family(self) -> None:
        for pid in self.family():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _with_default_sigint(then=None):
    """A shell's background job (``pytest ... &``) starts with SIGINT ignored, and its children with it:
    give the run Python's own Ctrl-C handling back."""

    def apply() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if then is not None:
            then()

    return apply


def marked_processes(mark: str) -> list[int]:
    needle = f"CTK_FAULT_MARK={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat") as s:
                        if s.read().split(") ")[-1].startswith("Z"):  # a zombie is already dead
                            continue
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_until(predicate, *, timeout: float, what: str, proc: CtkProcess | None = None, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.proc.poll() is not None:
            rc, out, err = proc.finish()
            raise AssertionError(f"process ended (rc {rc}) before: {what}\n{out}\n{err}")
        time.sleep(step)
    raise AssertionError(f"timed out waiting for: {what}")


def committed_parts(lib: Path) -> int:
    return len(list((lib / "tracks").glob("part-*.parquet")))


@pytest.fixture
def ctk_processes():
    """Start ctk subprocesses through this; any still alive (with their children) are killed at the end."""
    started: list[CtkProcess] = []

    def start(*args: str, **kwargs) -> CtkProcess:
        started.append(CtkProcess(*args, **kwargs))
        return started[-1]

    yield start
    for p in started:
        p.kill_family()
