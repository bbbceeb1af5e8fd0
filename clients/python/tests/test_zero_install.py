"""Zero install: the client the extension bundles works in an interpreter with nothing installed (put
on PYTHONPATH through clients/python/bootstrap, as VS Code's terminals get it), a copy the user
installed wins over it, the wheel's version follows the extension's, and `doctor` explains itself."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from conftest import REPO, TOKEN, build_wheel, read_log
from gradient_monitor.doctor import main as doctor

CLIENT = REPO / "clients" / "python"
BOOTSTRAP = CLIENT / "bootstrap"
EXTENSION_VERSION = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["version"]


def bare_venv(where: Path) -> Path:
    """A venv with nothing in it: no websocket-client, no torch, not even pip."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=60)
    return where / "bin" / "python"


def terminal_env(**extra: str) -> dict:
    """The environment of a VS Code terminal: the user's PYTHONPATH kept, the bootstrap prepended."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADIENT_MONITOR_") and k != "PYTHONPATH"}
    return {**env, "PYTHONPATH": f"{BOOTSTRAP}{os.pathsep}/the/users/own/path", **extra}


def test_bundled_client_streams_from_an_interpreter_with_nothing_installed(tmp_path, endpoint):
    python = bare_venv(tmp_path / "venv")
    script = (
        "import sys\n"
        "from gradient_monitor import Monitor\n"
        "with Monitor('zero', run_id='zero-install') as m:\n"
        "    for i in range(20):\n"
        "        m.log(i, float(i), {'a': 1.0, 'b': float('nan') if i == 7 else 2.0})\n"
        "import gradient_monitor\n"
        "print(gradient_monitor.__file__, 'websocket' in sys.modules, '/the/users/own/path' in sys.path, m.connected)\n"
    )
    done = subprocess.run(
        [str(python), "-c", script],
        env=terminal_env(GRADIENT_MONITOR_URL=endpoint.url, GRADIENT_MONITOR_TOKEN=TOKEN),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    package, websocket_loaded, user_path_kept, _ = done.stdout.split()
    assert package == str(CLIENT / "gradient_monitor" / "__init__.py")
    assert websocket_loaded == "False" and user_path_kept == "True"
    steps = [m for m in read_log(endpoint.log_for("zero-install")) if m["type"] == "step"]
    assert [m["step"] for m in steps] == list(range(20))
    assert str(steps[7]["layer_norms"][1]) == "nan"
    assert not (tmp_path / ".gradient-monitor").exists(), "streamed, so no local log"


def test_a_copy_the_user_installed_wins_and_a_version_mismatch_warns_once(tmp_path):
    python = bare_venv(tmp_path / "venv")
    wheel = build_wheel(tmp_path, version="0.0.1")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        timeout=120,
    )
    script = (
        "import gradient_monitor\n"
        "import gradient_monitor as again\n"
        "from gradient_monitor import Monitor\n"
        "from gradient_monitor.monitor import Monitor as Same\n"
        "assert Monitor is Same and again is gradient_monitor\n"
        "print(gradient_monitor.__version__, gradient_monitor.__file__)\n"
    )
    done = subprocess.run([str(python), "-c", script], env=terminal_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    version, package = done.stdout.split()
    assert version == "0.0.1" and package.startswith(str(tmp_path / "venv"))
    warnings = [line for line in done.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warnings) == 1 and "gradient_monitor 0.0.1 installed at" in warnings[0] and f"bundles {EXTENSION_VERSION}" in warnings[0]
    # `python -m` goes through the same stand-in
    doctor_run = subprocess.run([str(python), "-m", "gradient_monitor", "doctor", "--no-connect"], env=terminal_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert doctor_run.returncode == 0 and doctor_run.stdout.startswith(f"gradient_monitor 0.0.1 from {tmp_path / 'venv'}")


def test_the_wheel_carries_the_extensions_version(tmp_path):
    wheel = build_wheel(tmp_path)
    assert wheel.name == f"gradient_monitor-{EXTENSION_VERSION}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "gradient_monitor/stdlib_websocket.py" in names and "gradient_monitor/integrations/lightning.py" in names
    assert not any(n.startswith("bootstrap") for n in names)


def test_doctor_names_the_discovered_endpoint_and_why(isolated, endpoint):
    workspace = isolated / "project"
    (workspace / "src").mkdir(parents=True)
    os.chdir(workspace / "src")
    out = io.StringIO()
    doctor([], out=out)
    assert "endpoint: none (no live endpoint has a discovery file" in out.getvalue()
    assert f"runs are recorded to {workspace / 'src' / '.gradient-monitor' / 'runs'}" in out.getvalue()

    record = {"url": endpoint.url, "token": TOKEN, "pid": endpoint.proc.pid, "workspaceFolders": [str(workspace)], "startedAt": time.time() * 1000, "logDir": str(endpoint.log_dir)}
    (isolated / "home" / "endpoints").mkdir(parents=True)
    (isolated / "home" / "endpoints" / f"{endpoint.proc.pid}.json").write_text(json.dumps(record))
    out = io.StringIO()
    doctor([], out=out)
    text = out.getvalue()
    assert f"endpoint: {endpoint.url}\n" in text
    assert f"its workspace folder {workspace} contains {workspace / 'src'}" in text
    assert "reachable: yes" in text
