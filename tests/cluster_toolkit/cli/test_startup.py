"""Start-up cost of the CLI: `ctk --help` and every command's `--help` import no heavy library, and a
command that does not need torch never imports it (each check in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cluster_toolkit.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("torch", "pandas", "sklearn", "scipy", "librosa", "matplotlib", "numpy", "pyarrow", "ray", "s3fs", "boto3",
         "pydantic")


def _fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter at the repository root; it prints one JSON line."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_of_ctk_and_of_every_light_command_imports_no_heavy_library():
    out = _fresh(f"""
import json, sys
import typer
from typer.testing import CliRunner
from cluster_toolkit.cli.main import app
heavy = {HEAVY!r}
after_import = [m for m in heavy if m in sys.modules]
runner = CliRunner()
root = runner.invoke(app, ["--help"], env={{"COLUMNS": "200"}})
group = typer.main.get_command(app)
commands = []
for name in group.list_commands(None):
    command = group.get_command(None, name)
    subs = getattr(command, "list_commands", None)
    commands += [[name, sub] for sub in subs(None)] if subs else [[name]]
helps = {{" ".join(c): runner.invoke(app, [*c, "--help"]).exit_code for c in commands}}
print(json.dumps({{"after_import": after_import, "root_exit": root.exit_code, "root": root.output, "helps": helps,
                  "after_help": [m for m in heavy if m in sys.modules]}}))
""")
    assert out["after_import"] == []
    assert out["root_exit"] == 0
    for name in ("embed", "status", "cluster", "train", "finetune", "clusters", "export"):
        assert f" {name} " in out["root"]
    assert len(out["helps"]) >= 20 and "clusters show" in out["helps"] and "export json" in out["helps"]
    assert set(out["helps"].values()) == {0}, out["helps"]
    assert out["after_help"] == []


def test_status_runs_without_torch(tmp_path):
    out = _fresh(f"""
import json, sys
from typer.testing import CliRunner
from cluster_toolkit.cli.main import app
from cluster_toolkit.store import LibraryStore
LibraryStore.open({str(tmp_path / "lib")!r}, create=True)
result = CliRunner().invoke(app, ["status", "--library", {str(tmp_path / "lib")!r}])
print(json.dumps({{"exit": result.exit_code, "output": result.output, "torch": "torch" in sys.modules}}))
""")
    assert out["exit"] == 0 and "tracks ok" in out["output"]
    assert out["torch"] is False


def test_train_and_finetune_help_show_the_config_defaults_without_torch():
    out = _fresh("""
import json, sys
from typer.testing import CliRunner
from cluster_toolkit.cli.main import app
runner = CliRunner()
helps = {name: runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"}) for name in ("train", "finetune")}
print(json.dumps({"exit": {k: v.exit_code for k, v in helps.items()}, "train": helps["train"].output,
                  "finetune": helps["finetune"].output, "torch": "torch" in sys.modules}))
""")
    assert out["exit"] == {"train": 0, "finetune": 0}
    assert out["torch"] is False
    train_help = " ".join(out["train"].split())
    assert "--batch-size <int> Fragments per batch. [default: 64]" in train_help  # TrainConfig.batch_size
    assert "--d-model <int> Transformer width. [default: 192]" in train_help  # EncoderConfig.d_model
    assert "[default: 4096]" in " ".join(out["finetune"].split())  # TrainConfig.kmeans_fragments
    # the error boundary covers them: a usage error is one line and exit code 2
    result = CliRunner().invoke(app, ["train"])
    assert result.exit_code == 2 and result.output.startswith("error: give MUSIC_DIR")


def test_root_help_lists_every_command_without_importing_their_modules():
    out = _fresh("""
import json, sys
import typer
from typer.testing import CliRunner
from cluster_toolkit.cli.main import COMMANDS, app, load_command
runner = CliRunner()
lazy = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
loaded_by_help = sorted(m for m, _, _ in COMMANDS.values() if m in sys.modules)
embed = runner.invoke(app, ["embed", "--help"], env={"COLUMNS": "100"})
loaded_by_embed_help = sorted(m for m, _, _ in COMMANDS.values() if m in sys.modules)
group = typer.main.get_command(app)
for name in COMMANDS:
    group.commands[name] = load_command(name)  # every command built, as `ctk NAME` would
full = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
helps = {name: command.help for name, command in group.commands.items()}
print(json.dumps({"lazy": lazy.output, "full": full.output, "loaded_by_help": loaded_by_help,
                  "loaded_by_embed_help": loaded_by_embed_help, "embed_exit": embed.exit_code,
                  "summaries": {name: summary for name, (_, _, summary) in COMMANDS.items()}, "helps": helps}))
""")
    assert out["loaded_by_help"] == []
    assert out["embed_exit"] == 0 and out["loaded_by_embed_help"] == ["cluster_toolkit.cli.embed"]
    # the summaries are the first paragraph of each command's own help, so the lazy listing is the full one
    for name, summary in out["summaries"].items():
        assert out["helps"][name].split("\n\n")[0] == summary, name
    assert out["lazy"] == out["full"]
    assert len(out["summaries"]) == 20
    for name in out["summaries"]:
        assert f" {name} " in out["lazy"]


def test_a_bool_flag_given_or_not_still_works_without_pydantic(tmp_path):
    out = _fresh(f"""
import json, sys
from typer.testing import CliRunner
from cluster_toolkit.cli.main import app
from cluster_toolkit.store import LibraryStore
LibraryStore.open({str(tmp_path / "lib")!r}, create=True)
runner = CliRunner()
quiet = runner.invoke(app, ["--quiet", "status", "--library", {str(tmp_path / "lib")!r}])
plain = runner.invoke(app, ["status", "--library", {str(tmp_path / "lib")!r}])
bad = runner.invoke(app, ["--quiet=3", "status"])
print(json.dumps({{"quiet": [quiet.exit_code, quiet.output], "plain": [plain.exit_code, plain.output],
                   "bad": bad.exit_code}}))
""")
    assert out["quiet"][0] == 0 and out["plain"][0] == 0
    assert "tracks ok" in out["quiet"][1] and out["quiet"][1] == out["plain"][1]
    assert out["bad"] == 2


def test_the_embedding_workers_start_without_the_store_libraries():
    """The workers' forkserver imports :mod:`cluster_toolkit.embed_workers` and the preload list, never
    pandas or pyarrow (0.8 CPU s on the critical path of `ctk embed`'s start-up); a worker started from
    it runs the real analysis and still has not imported them."""
    out = _fresh("""
import importlib, json, sys
from cluster_toolkit.embed_workers import _PRELOAD, WorkerPool
light = [m for m in ("pandas", "pyarrow") if m in sys.modules]
for name in _PRELOAD:
    importlib.import_module(name)
preloaded = [m for m in ("pandas", "pyarrow") if m in sys.modules]
pool = WorkerPool("features", 1)
description, dim = pool.description()
worker = pool.take()
in_worker = worker.submit(eval, "[m for m in ('pandas', 'pyarrow') if m in __import__('sys').modules]").result()
worker.shutdown()
print(json.dumps({"light": light, "preloaded": preloaded, "dim": dim, "in_worker": in_worker}))
""")
    assert out["light"] == [] and out["preloaded"] == [] and out["in_worker"] == []
    assert out["dim"] > 0
