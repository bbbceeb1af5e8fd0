"""Fixtures: a real `gradient-monitor serve` endpoint (the TypeScript one, from dist/) and log readers."""
from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "bin" / "gradient-monitor"
TOKEN = "test-token"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def framework_python() -> str:
    """The venv with the real ML libraries (and jupyter_client, ipykernel): scripts/ensure-venv.sh builds it once per machine."""
    done = subprocess.run(["bash", str(REPO / "scripts" / "ensure-venv.sh")], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        pytest.fail(f"scripts/ensure-venv.sh failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


def build_wheel(tmp: Path, version: str = "") -> Path:
    """`pip wheel` of a copy of the client, optionally with another version (building in place would leave build/ in the repo)."""
    src = tmp / "client-src"
    ignore = shutil.ignore_patterns("tests", "bootstrap", "__pycache__", "*.egg-info", "build", "requirements-*")
    shutil.copytree(REPO / "clients" / "python", src, ignore=ignore)
    if version:
        version_file = src / "gradient_monitor" / "_version.py"
        version_file.write_text(re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', version_file.read_text()))
    out = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out)],
        check=True,
        timeout=120,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def _nonfinite(value: Any) -> Any:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.get(value, value) if isinstance(value, str) else value


def read_log(path: Path) -> List[Dict[str, Any]]:
    """A run log's messages, with "NaN"/"Infinity" strings turned back into floats and without the
    connection-local `seq` (the endpoint records messages as sent, docs/protocol.md "Recording")."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            m = json.loads(line)
            m.pop("seq", None)
            for key in ("total_norm", "loss", "lr"):
                if key in m:
                    m[key] = _nonfinite(m[key])
            if "layer_norms" in m:
                m["layer_norms"] = [_nonfinite(v) for v in m["layer_norms"]]
            out.append(m)
    return out


def steps_in(path: Path) -> List[Dict[str, Any]]:
    return [m for m in read_log(path) if m["type"] == "step"]


def require(module: str) -> Any:
    """Imports a framework for its tests: skipped where it is not installed (Debian's python3), an error
    where scripts/test-python.sh promises it (GRADIENT_MONITOR_REQUIRE_FRAMEWORKS=1, the venv run)."""
    if os.environ.get("GRADIENT_MONITOR_REQUIRE_FRAMEWORKS") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def worker_env(**extra: str) -> Dict[str, str]:
    """Environment for a test's subprocess: this client importable, one thread, quiet TensorFlow."""
    path = os.pathsep.join([str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def inspect_log(path: Path) -> Dict[str, Any]:
    """`gradient-monitor inspect LOG --json`: the extension's own reading of a log."""
    done = subprocess.run(["node", str(CLI), "inspect", str(path), "--json"], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


class Endpoint:
    """`gradient-monitor serve` as a subprocess; can be killed (SIGKILL) and started again on the same port."""

    def __init__(self, log_dir: Path, home: Optional[Path] = None) -> None:
        self.log_dir = log_dir
        self.home = home or log_dir.parent / "endpoint-home"
        self.port = 0
        self.url = ""
        self.proc: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(CLI), "serve", "--port", str(self.port), "--token", TOKEN, "--log-dir", str(self.log_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "GRADIENT_MONITOR_HOME": str(self.home)},
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("ws://"), f"serve printed {self.url!r}"
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def log_for(self, run_id: str) -> Path:
        from gradient_monitor import log_file_name

        return self.log_dir / log_file_name(run_id)


@pytest.fixture(scope="session", autouse=True)
def built_cli() -> None:
    if not (REPO / "dist" / "cli.js").exists():
        pytest.exit("dist/cli.js is missing: run `npm run build` first (scripts/test-python.sh does)", returncode=2)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No endpoint leaks in from the environment or ~/.gradient-monitor; default log dir under tmp."""
    monkeypatch.delenv("GRADIENT_MONITOR_URL", raising=False)
    monkeypatch.delenv("GRADIENT_MONITOR_TOKEN", raising=False)
    monkeypatch.setenv("GRADIENT_MONITOR_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(params=["websocket-client", "stdlib"])
def websocket_library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test over websocket-client and again as if it were not installed (the stdlib client)."""
    if request.param == "stdlib":
        monkeypatch.setitem(sys.modules, "websocket", None)  # `import websocket` now raises ImportError
    from gradient_monitor.connection import websocket_implementation

    assert websocket_implementation() == request.param
    return request.param


@pytest.fixture
def endpoint(tmp_path: Path):
    ep = Endpoint(tmp_path / "server-logs")
    yield ep
    ep.stop()
