"""The data folder: XMC_VAR_DIR moves every default path, and a control socket fits a Unix socket's
length limit wherever the folder is."""

from __future__ import annotations

import os

from xmc_fix.control.server import MAX_SOCKET_PATH, ControlServer, default_socket
from xmc_fix.paths import ROOT, default_db, var_dir


def test_the_data_folder_is_xmc_var_dir_else_the_checkouts_var(tmp_path, monkeypatch):
    monkeypatch.setenv("XMC_VAR_DIR", str(tmp_path / "data"))
    assert var_dir() == tmp_path / "data"
    assert default_db() == f"sqlite:///{tmp_path / 'data' / 'xmc.db'}"
    assert default_socket("X") == tmp_path / "data" / "run" / "xmc-X.sock"

    monkeypatch.delenv("XMC_VAR_DIR")
    assert var_dir() == ROOT / "var"


def test_a_deep_data_folder_gets_a_short_control_socket_that_binds(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    monkeypatch.setenv("XMC_VAR_DIR", str(deep))

    path = default_socket("X")

    assert len(os.fsencode(deep / "run" / "xmc-X.sock")) > MAX_SOCKET_PATH >= len(os.fsencode(path))
    assert default_socket("X") == path and default_socket("Y").parent == path.parent   # xmc status finds it
    server = ControlServer(path, lambda cmd, args, who: {}, audit=None).start()
    try:
        assert path.exists() and (path.parent.stat().st_mode & 0o777) == 0o700
    finally:
        server.stop()
        path.parent.rmdir()
