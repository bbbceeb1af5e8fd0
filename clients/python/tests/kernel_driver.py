"""Runs cells in a real ipykernel started by jupyter_client, the way VS Code's Jupyter extension does
(launched by test_jupyter.py with the framework venv's python, which has jupyter_client and ipykernel).

argv[1]: a JSON file {"cwd", "env", "cells": [{"code", "metadata"}]}. Starts the kernel with exactly
that environment and working directory, executes the cells in order (each execute request carries its
metadata, as VS Code sends `cellId`), and prints one JSON line: per cell, its status and its output.
"""
from __future__ import annotations

import json
import sys

from jupyter_client.manager import KernelManager


def execute(client, code: str, metadata: dict, timeout: float = 120.0) -> dict:
    msg = client.session.msg(
        "execute_request",
        {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        metadata=metadata,
    )
    client.shell_channel.send(msg)
    reply = client._recv_reply(msg["header"]["msg_id"], timeout=timeout)
    output = []
    while True:
        m = client.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        kind, content = m["msg_type"], m["content"]
        if kind == "stream":
            output.append(content["text"])
        elif kind == "error":
            output.append("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            break
    return {"status": reply["content"]["status"], "output": "".join(output)}


def main(config_file: str) -> None:
    with open(config_file, encoding="utf-8") as f:
        config = json.load(f)
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=config["cwd"], env=config["env"])
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        results = [execute(client, cell["code"], cell.get("metadata", {})) for cell in config["cells"]]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
