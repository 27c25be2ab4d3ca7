"""The writer benchmark runs end to end on a small count (its figures are printed, never asserted)."""

from __future__ import annotations

from xmc_fix.audit.bench import bench, main, synthetic_messages
from xmc_fix.audit.verify import verify


def test_synthetic_messages_are_the_documented_mix():
    msgs = synthetic_messages(200)
    types = [next(f[3:] for f in raw.split("\x01") if f.startswith("35=")) for _, _, raw in msgs]
    assert (types.count("X"), types.count("8"), types.count("D")) == (160, 30, 10)


def test_a_small_benchmark_writes_a_verifiable_run(audit_url, tmp_path):
    r = bench(audit_url, 300, paced_rate=1000, paced_seconds=0.2, spill_dir=tmp_path)

    assert r.messages == 300 and r.errors == 0 and r.burst_msgs_per_s > 0
    assert verify(audit_url).ok


def test_the_command_prints_one_line_per_database(tmp_path, capsys):
    assert main(["-n", "100", "--seconds", "0", "--db", f"sqlite:///{tmp_path / 'b.db'}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("backend") and out[3].startswith("sqlite")
