"""The demo's work folder: a folder per run, the newest kept."""

from __future__ import annotations

import os

from xmc_fix.demo import _prune


def test_the_newest_run_folders_are_kept_and_other_folders_left_alone(tmp_path):
    for i in range(25):
        d = tmp_path / f"X-{i:010x}"
        d.mkdir()
        os.utime(d, (1_000 + i, 1_000 + i))
    (tmp_path / "store-engine").mkdir()   # the shared store of older versions
    (tmp_path / "notes").mkdir()

    _prune(tmp_path, keep=20)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"X-{i:010x}" for i in range(5, 25)] + ["notes"])
