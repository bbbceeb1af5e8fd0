"""Stdlib-only check of the client under the oldest Python it supports, for interpreters without
pytest (scripts/test-python.sh runs it when a python3.9 exists but has no pytest): every module
compiles and imports, and a run recorded to the local log reads back."""
from __future__ import annotations

import compileall
import importlib
import json
import math
import os
import pkgutil
import sys
import tempfile
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CLIENT))


def main() -> None:
    assert compileall.compile_dir(str(CLIENT / "gradient_monitor"), quiet=1), "a module does not compile"
    import gradient_monitor

    modules = [m.name for m in pkgutil.walk_packages(gradient_monitor.__path__, "gradient_monitor.") if not m.name.endswith("__main__")]
    imported = 0
    for name in modules:
        try:
            importlib.import_module(name)
            imported += 1
        except ModuleNotFoundError as e:  # a framework module (_torch needs torch): not the client's fault
            if (e.name or "").startswith("gradient_monitor"):
                raise
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GRADIENT_MONITOR_HOME"] = tmp  # no endpoint to discover: the run goes to the local log
        with gradient_monitor.Monitor("oldest-python", log_dir=tmp, layers=["a", "b"]) as monitor:
            monitor.log(0, 1.5, [1.0, math.nan], loss=0.5)
            monitor.log(None, 5.0, {"a": 3.0, "b": 4.0})
        lines = [json.loads(line) for line in Path(monitor.log_path).read_text().splitlines()]
    assert [m["type"] for m in lines] == ["run_start", "step", "step", "run_end"], lines
    assert lines[2]["total_norm"] == 5.0 and lines[-1]["status"] == "completed"
    print(f"oldest-python smoke: Python {sys.version.split()[0]}: {imported} of {len(modules)} modules import (the rest need a framework), a run records and reads back: ok")


if __name__ == "__main__":
    main()
