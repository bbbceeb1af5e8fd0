"""Pure logic: layer grouping, endpoint choice, log file names (checked against the TypeScript server's)."""
from __future__ import annotations

import json
import os

import pytest

from conftest import TOKEN
from gradient_monitor import Monitor, group_layers, log_file_name
from gradient_monitor.discovery import choose_discovered, resolve_endpoint

NAMES = [
    "module.embed.weight",
    "module.blocks.0.attn.q.weight",
    "module.blocks.0.attn.q.bias",
    "module.blocks.0.mlp.fc.weight",
    "module.blocks.1.attn.q.weight",
    "module.blocks.1.mlp.fc.weight",
    "module.head.weight",
]


def test_auto_groups_by_owning_module_without_wrapper_prefixes():
    names, index = group_layers(NAMES)
    assert names == ["embed", "blocks.0.attn.q", "blocks.0.mlp.fc", "blocks.1.attn.q", "blocks.1.mlp.fc", "head"]
    assert index == [0, 1, 1, 2, 3, 4, 5]


def test_auto_coarsens_to_fit_the_cap_then_merges_ranges():
    assert group_layers(NAMES, max_layers=4)[0] == ["embed", "blocks.0", "blocks.1", "head"]
    many = [f"{i}.weight" for i in range(10)]
    names, index = group_layers(many, max_layers=3)
    assert names == ["0…3", "4…7", "8…9"] and index == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]


def test_other_groupings_and_the_name_filter():
    assert group_layers(NAMES, "parameter")[0][:2] == ["embed.weight", "blocks.0.attn.q.weight"]
    assert group_layers(NAMES, 1)[0] == ["embed", "blocks", "head"]
    assert group_layers(NAMES, ["blocks.0", "head"])[1] == [-1, 0, 0, 0, -1, -1, 1]
    names, index = group_layers(NAMES, include=r"attn")
    assert names == ["blocks.0.attn.q", "blocks.1.attn.q"] and index == [-1, 0, 0, -1, 1, -1, -1]
    assert group_layers(NAMES, None) == ([], [-1] * 7)
    with pytest.raises(ValueError, match="layers must be"):
        group_layers(NAMES, 3.5)  # type: ignore[arg-type]


def rec(url, folders, started, pid=None):
    return {"url": url, "token": "t", "pid": pid or os.getpid(), "workspaceFolders": folders, "startedAt": started, "logDir": "/x"}


def test_discovery_prefers_the_deepest_workspace_containing_cwd_else_the_newest(tmp_path):
    proj = tmp_path / "proj"
    sub = proj / "sub"
    records = [rec("ws://a", [str(tmp_path)], 1), rec("ws://b", [str(proj)], 0), rec("ws://c", ["/elsewhere"], 9)]
    assert choose_discovered(records, [str(sub)])[0]["url"] == "ws://b"
    assert choose_discovered(records, ["/unrelated"])[0]["url"] == "ws://c"
    assert choose_discovered(records, ["/unrelated", str(sub)])[0]["url"] == "ws://b"  # a notebook's folder, then the cwd
    assert choose_discovered([], ["/x"])[0] is None


def test_discovery_ignores_dead_processes_and_torn_files(isolated):
    endpoints = isolated / "home" / "endpoints"
    endpoints.mkdir(parents=True)
    (endpoints / "1.json").write_text(json.dumps(rec("ws://dead", [str(isolated)], 5, pid=2**22 + 12345)))
    (endpoints / "2.json").write_text("{torn")
    (endpoints / "3.json").write_text(json.dumps(rec("ws://alive", [], 1)))
    chosen = resolve_endpoint()
    assert chosen is not None and chosen.url == "ws://alive" and chosen.token == "t" and chosen.source == "discovery"


def test_environment_variables_win_over_discovery(monkeypatch):
    monkeypatch.setenv("GRADIENT_MONITOR_URL", "ws://env")
    monkeypatch.setenv("GRADIENT_MONITOR_TOKEN", "secret")
    chosen = resolve_endpoint()
    assert (chosen.url, chosen.token) == ("ws://env", "secret")
    assert resolve_endpoint("ws://arg", "tok").url == "ws://arg"


@pytest.mark.parametrize("run_id", ["plain-run", "my run/ä:1 ✓", "..hidden", "con.txt", "///", "x" * 200])
def test_log_file_names_match_the_servers(endpoint, run_id):
    with Monitor(run_id=run_id, url=endpoint.url, token=TOKEN) as monitor:
        monitor.log(0, 1.0)
    assert endpoint.log_for(run_id).exists(), os.listdir(endpoint.log_dir)
    assert os.path.basename(monitor.log_path) == log_file_name(run_id)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="threshold"):
        Monitor(threshold=0)
    monitor = Monitor(layers=["a", "b"])
    with pytest.raises(ValueError, match="2 layers"):
        monitor.log(0, 1.0, [1.0])
    with pytest.raises(ValueError, match="step must be"):
        monitor.log(-1, 1.0)
    with pytest.raises(RuntimeError, match="watch"):
        monitor.step()
    monitor.close()


def test_discovery_survives_a_deleted_working_directory(tmp_path):
    """A job whose working directory was removed under it (a cleaned scratch folder) still looks up
    endpoints, by discovery files alone, instead of failing in the sender thread."""
    from gradient_monitor.discovery import discovery_places

    gone = tmp_path / "scratch"
    gone.mkdir()
    here = os.getcwd()
    os.chdir(gone)
    try:
        gone.rmdir()
        assert discovery_places() == []
    finally:
        os.chdir(here)
