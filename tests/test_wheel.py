"""The product as it ships: a wheel built from the checkout, installed into a new virtual
environment, every command run from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-06-15"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the console script, a clean environment for it), from a wheel of this checkout."""
    base = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(base / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (base / "dist").glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    for package in sorted(p.parent for p in (ROOT / "milestone_sheets").rglob("__init__.py")):
        assert f"{package.relative_to(ROOT).as_posix()}/__init__.py" in names
    assert not [n for n in names if n.endswith((".c", ".so", ".pyd"))]
    env_dir = base / "venv"
    # A new environment without pip of its own (putting pip in takes longer than the
    # rest), filled by this one's pip with the wheel and what it declares it needs;
    # the modules are compiled as they are first imported, not all of pandas up front.
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                          "--no-compile", str(wheel)],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-3000:]
    # As a user's shell has it: the commands keep the modules they compile.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")}  # fmt: skip
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env_dir / "bin" / "milestone-sheets", env


def run(installed, folder: Path, *args: str, code: int | None = 0) -> subprocess.CompletedProcess:
    script, env = installed
    done = subprocess.run([str(script), *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    if code is not None:
        assert done.returncode == code, (
            f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    script, env = installed
    python = script.parent / "python"
    where = subprocess.run([str(python), "-c", "import milestone_sheets; print(milestone_sheets.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert str(script.parent.parent) in where.stdout, where
    assert str(ROOT) not in where.stdout


def test_every_command_works_from_another_folder(installed, tmp_path, smtp_server):
    assert "Usage" in run(installed, tmp_path, "--help").stdout
    demo = run(installed, tmp_path, "demo", "demo", "--as-of", AS_OF)
    assert "12 milestones" in demo.stdout and (tmp_path / "demo" / "report.html").is_file()
    folder = tmp_path / "demo"
    # The demo plan holds two deliberate data problems: exit 1 from here on.
    validate = run(installed, folder, "validate", "--as-of", AS_OF, code=1)
    assert "Milestones!I12: Due 'next friday' is not a date" in validate.stderr
    status = run(installed, folder, "status", "--format", "json", "--as-of", AS_OF, code=1)
    assert len(json.loads(status.stdout)) == 12
    assert "Up to date" in run(installed, folder, "sync", "--as-of", AS_OF, code=1).stdout
    run(installed, folder, "report", "-o", "r.html", "--as-of", AS_OF, code=1)
    history = json.loads(run(installed, folder, "history", "--format", "json").stdout)
    assert {"id", "name", "field", "old", "new", "seen"} == set(history[0])  # the demo's month
    baseline = run(installed, folder, "baseline", "--reset", "--ids", "M3", "--as-of", AS_OF,
                   code=1)  # fmt: skip
    assert "Baseline set for 1 milestone" in baseline.stdout
    assert "<svg" in (folder / "r.html").read_text(encoding="utf-8")
    review = run(installed, folder, "review", "--as-of", AS_OF, code=1)
    assert "to" in review.stdout and list((folder / "outbox").glob("*.eml"))
    config = folder / "milestone-sheets.toml"
    config.write_text(config.read_text(encoding="utf-8") + smtp_server.config_text(), "utf-8")
    sent = run(installed, folder, "review", "--send", "--as-of", AS_OF, code=1)
    assert "Sent" in sent.stdout and smtp_server.recorder.messages
    # A later sync moves milestones into Overdue: their owners are alerted.
    before = len(smtp_server.recorder.messages)
    notify = run(installed, folder, "sync", "--notify", "--send", "--as-of", "2026-07-20", code=1)
    assert "alert" in notify.stdout and len(smtp_server.recorder.messages) > before
    run(installed, tmp_path, "init", "mine/plan.xlsx")
    assert (tmp_path / "mine" / "milestone-sheets.toml").is_file()
    google = run(installed, tmp_path, "demo", "--google", "--as-of", AS_OF)
    assert "API requests to a Sheets API emulator at http://127.0.0.1:" in google.stdout


def test_every_command_has_help(installed, tmp_path):
    for command in ("demo", "init", "validate", "status", "sync", "report", "review",
                    "baseline", "history"):  # fmt: skip
        assert "Example:" in run(installed, tmp_path, command, "--help").stdout
