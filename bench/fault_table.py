"""Run the fault-injection suite (tests/faults) and print its table: case, expected, observed.

    python bench/fault_table.py            # the table of docs/RELIABILITY.md, in Markdown
    python bench/fault_table.py --tests DIR  # another copy of the suite (e.g. against an older checkout)
    python bench/fault_table.py -k signal    # other arguments go to pytest

Each test of the suite is one case; its name says what is expected (``test_a_cut_file_is_a_failure_
with_a_reason[mp3-0.5]`` -> "a cut file is a failure with a reason [mp3-0.5]"); the observed column
is "as expected" with the seconds it took, or the first line of what went wrong. Exit code: pytest's.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _expected(name: str) -> str:
    base, _, params = name.partition("[")
    text = base.removeprefix("test_").replace("_", " ")
    return f"{text} [{params}" if params else text


def _observed(case: ET.Element) -> str:
    for tag in ("failure", "error"):
        bad = case.find(tag)
        if bad is not None:
            message = (bad.get("message") or bad.text or tag).strip().splitlines()[0]
            return f"**{tag.upper()}**: {message[:160]}"
    if case.find("skipped") is not None:
        return "**SKIPPED**"
    return f"as expected ({float(case.get('time', 0)):.1f} s)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", default=str(REPO / "tests" / "faults"), help="the suite to run")
    args, pytest_args = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "faults.xml"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", args.tests, f"--junitxml={report}",
             f"--basetemp={Path(tmp) / 'basetemp'}", *pytest_args],
            cwd=Path(args.tests).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored as in a background job
        )  # fmt: skip
        cases = ET.parse(report).getroot().iter("testcase")
        print("| file | case: expected | observed |")
        print("| --- | --- | --- |")
        total = 0.0
        for case in cases:
            total += float(case.get("time", 0))
            module = case.get("classname", "").rsplit(".", 1)[-1]
            print(f"| {module} | {_expected(case.get('name', ''))} | {_observed(case)} |")
        print(f"\npytest exit code {done.returncode}; {total:.0f} s in the tests")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
