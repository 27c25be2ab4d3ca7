"""The in-process market-data path benchmark runs the real decoder and engine over refreshes that all
apply (it refuses to print figures for refreshes that did not), and prints what it measured."""

from __future__ import annotations

from xmc_fix.bench import mdpath


def test_the_refreshes_apply_and_each_figure_is_printed(capsys):
    r = mdpath.measure(200)
    assert r["refreshes"] == 200 and r["passes"] == mdpath.PASSES
    assert 0 < r["decode_us"] < r["engine_us"] and r["plain_us"] > 0
    assert r["ratio_to_plain"] == round(r["engine_us"] / r["plain_us"], 2)
    mdpath.main(["50"])
    out = capsys.readouterr().out
    for label in ("decode only", "decode + engine", "plain script's handler", "xmc_fix / plain"):
        assert label in out


def test_refreshes_follow_on_from_the_snapshot_entry_by_entry():
    from xmc_fix.venues import translate as tr
    ups = [u for raw in mdpath.refreshes(3, 1_800_000_000_000_000_000)
           for u in tr.decode_incremental("SHFE", raw, 0, tr.Inbound())]
    assert [(u.symbol, u.first_rpt_seq, u.rpt_seq, len(u.entries)) for u in ups] == \
        [("CU", 2, 3, 2), ("CU", 4, 5, 2), ("CU", 6, 7, 2)]
