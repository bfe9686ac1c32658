"""``ctk serve`` as a user runs it: a real process on 127.0.0.1; ``ctk --help`` stays free of the web stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.errors import UsageError
from cluster_toolkit.serve import token_for
from tests.cluster_toolkit.serve.conftest import free_port

REPO = Path(__file__).resolve().parents[3]


def test_ctk_help_lists_serve_without_importing_the_web_stack():
    code = ("import sys; from typer.testing import CliRunner; from cluster_toolkit.cli.main import app; "
            "out = CliRunner().invoke(app, ['--help']).output; "
            "print('serve' in out, sorted(m for m in ('fastapi', 'uvicorn', 'rapidfuzz', 'starlette') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.stdout.split("\n")[0] == "True []", done.stderr[-2000:]


def test_serve_help_and_a_missing_library():
    runner = CliRunner()
    shown = runner.invoke(app, ["serve", "--help"])
    assert shown.exit_code == 0 and "--music-root" in shown.output and "--token" in shown.output
    missing = runner.invoke(app, ["serve", "--library", "/nonexistent/.ctk"])
    assert missing.exit_code == 2 and "error: /nonexistent/.ctk: no library here" in missing.output


def test_token_for_binds_loopback_without_one_and_anything_else_with_one():
    assert token_for("127.0.0.1", None) is None and token_for("::1", None) is None
    assert token_for("localhost", None) is None
    made = token_for("0.0.0.0", None)
    assert made is not None and len(made) >= 32 and made != token_for("0.0.0.0", None)
    assert token_for("192.168.1.5", "a-long-enough-token") == "a-long-enough-token"
    with pytest.raises(UsageError, match="at least 16"):
        token_for("0.0.0.0", "short")


def test_ctk_serve_process_answers_and_guards_writes_with_its_token(served_library, tmp_path):
    music, store_root, _ = served_library
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "CTK_SERVE_TOKEN": "t0ken-for-this-test-run"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cluster_toolkit.cli.main", "serve", "--library", str(store_root), "--port", str(port),
         "--playlists-dir", str(tmp_path / "lists")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )
    try:
        lines = [proc.stdout.readline()]  # notices (e.g. about the library's model) may come first
        while "tracks loaded in" not in lines[-1] and len(lines) < 5 and lines[-1]:
            lines.append(proc.stdout.readline())
        line = lines[-1]
        assert "14 tracks loaded in" in line and f"serving http://127.0.0.1:{port}/#token=t0ken-for-this-test-run" \
            in line, line
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                info = httpx.get(url + "/api/info", timeout=5).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "ctk serve did not start listening"
                time.sleep(0.1)
        assert info["tracks"] == 14 and info["token_required"] is True
        ids = [r["track_id"] for r in httpx.get(url + "/api/search", params={"q": "clara vey"}).json()["results"]]
        body = {"name": "from the cli", "track_ids": ids[:2]}
        assert httpx.post(url + "/api/playlists", json=body).status_code == 403
        saved = httpx.post(url + "/api/playlists", json=body, headers={"X-CTK-Token": "t0ken-for-this-test-run"})
        assert saved.status_code == 200 and (tmp_path / "lists" / "from the cli.m3u8").is_file()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode in (0, 130)
