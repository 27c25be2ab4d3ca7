"""``xmc``: argument parsing only. The work happens in :mod:`xmc_fix.app` (the engine),
:mod:`xmc_fix.demo`, :mod:`xmc_fix.sim.wiring`, :mod:`xmc_fix.audit` and :mod:`xmc_fix.reports`.

Exit codes: 0 success, 1 a run failed, 2 bad usage or bad configuration (one line naming the file,
the key and the remedy; never a traceback).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click

from xmc_fix.errors import ConfigError, XmcError
from xmc_fix.paths import SESSIONS, default_db, var_dir

DB_HELP = "Audit database (SQLAlchemy URL)."
DB_SHOWN = "sqlite:///<data folder>/xmc.db"


def _setup_logging(level: str, log_file: str | None) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for h in list(root.handlers):
        root.removeHandler(h)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(getattr(logging, level.upper()))
    err.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(err)
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file)
        fh.setLevel(logging.INFO)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)


class XmcGroup(click.Group):
    """Turns configuration errors into one line and exit code 2, other known errors into exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            click.echo(f"xmc: configuration error: {e.line()}", err=True)
            ctx.exit(2)
        except XmcError as e:
            click.echo(f"xmc: error: {e}", err=True)
            ctx.exit(1)


def _ports(values: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for v in values:
        venue, sep, port = v.partition("=")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise click.BadParameter(f"{v!r}: expected VENUE=PORT, e.g. SHFE=9881", param_hint="--port")
        out[venue] = int(port)
    return out


def _existing(path: str, what: str, option: str) -> str:
    if not Path(path).is_file():
        raise ConfigError("file not found", file=path, key=option, remedy=f"pass an existing {what}")
    return path


@click.group(cls=XmcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="Level of messages printed on stderr (the log file always gets info and above).")
@click.option("--log-file", default=lambda: str(var_dir() / "log" / "xmc.log"), show_default="<data folder>/log/xmc.log",
              help="Application log file (FIX messages go to the audit database, not here).")
@click.version_option(package_name="xmc_fix")
def cli(log_level: str, log_file: str) -> None:
    """xmc_fix: cross-market basis arbitrage over FIX.

    Start with `xmc demo`: it runs the exchange simulator and the engine on loopback, trades the
    default copper pairs, and prints the audit report.

    The data folder (default database, log, journals, control sockets, demo runs, stores) is
    $XMC_VAR_DIR, else var/ of the checkout.
    """
    _setup_logging(log_level, log_file)
    # The QuickFIX session thread shares the GIL with the audit writer and the timer; a short
    # switch interval bounds how long it can wait for the GIL when a message arrives (default 5 ms).
    sys.setswitchinterval(float(os.environ.get("XMC_SWITCH_INTERVAL", "0.0002")))


@cli.command()
@click.option("--duration", type=click.FloatRange(min=1), default=20.0, show_default=True,
              help="Seconds of trading.")
@click.option("--db", "db_url", default=default_db, show_default=DB_SHOWN, help=DB_HELP)
@click.option("--seed", type=int, default=7, show_default=True, help="Simulator seed (same seed, same prices).")
@click.option("--sessions", "sessions_path", default=str(SESSIONS / "venues.cfg"), show_default=True,
              help="Engine QuickFIX settings (ports are replaced by free ones).")
@click.option("--sim-config", default=str(SESSIONS / "sim.cfg"), show_default=True,
              help="Simulator QuickFIX settings.")
@click.option("--strategy", "strategy_path", default=str(SESSIONS / "strategy.toml"), show_default=True,
              help="Strategy file: instruments, pairs, thresholds, limits.")
@click.option("--market", "market_path", default=str(SESSIONS / "sim_market.toml"), show_default=True,
              help="Simulator market file: price factors, venues, market makers.")
@click.option("--scenario", default="calm", show_default=True,
              help="Venue behaviour: calm, chaos, or a scenario file (README \"Scenarios\").")
@click.option("--control", "control_path", default=None,
              help="The engine's control socket, for xmc status/watch/web (default var/run/xmc-<namespace>.sock).")
@click.option("--work-dir", default=None,
              help="Folder for the demo's FIX stores, journal and simulator database (default var/demo).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Prometheus metrics on 127.0.0.1:PORT/metrics (default: [engine] metrics_port; 0: off).")
@click.option("--quiet", is_flag=True, help="No progress lines, only the final report.")
def demo(duration, db_url, seed, sessions_path, sim_config, strategy_path, market_path, scenario, control_path,
         work_dir, metrics_port, quiet):
    """Run the simulated venues and the engine together, then print the audit report."""
    from xmc_fix.demo import run_demo
    from xmc_fix.reports.figures import figures, load_run, render_table

    for p, what, opt in ((sessions_path, "QuickFIX settings file", "--sessions"),
                         (sim_config, "QuickFIX settings file", "--sim-config"),
                         (strategy_path, "strategy file", "--strategy"), (market_path, "market file", "--market")):
        _existing(p, what, opt)
    _usable_database(db_url)
    progress = None if quiet else (lambda line: click.echo(line, err=True))
    summary, run_id, completeness = run_demo(duration=duration, db_url=db_url, seed=seed,
                                             sessions_path=sessions_path, sim_config_path=sim_config,
                                             strategy_path=strategy_path, market_path=market_path, progress=progress,
                                             scenario=scenario, control_path=control_path, work_dir=work_dir,
                                             metrics_port=metrics_port)
    figs = figures(load_run(db_url, run_id))
    click.echo(render_table(figs))
    n_sessions = len(completeness["sessions"])
    click.echo(f"audit: every FIX message of the run stored ({n_sessions} sessions checked against QuickFIX's store)"
               if completeness["complete"] else "audit: INCOMPLETE - see `xmc report --format json`")
    click.echo(f"database: {db_url}   run: {run_id}   (xmc report --db {db_url} --run {run_id})")
    click.echo(_chain_line(db_url, run_id))
    held = _exposure_lines(summary)
    if not completeness["complete"] or held:
        sys.exit(1)


@cli.command()
@click.option("--config", "config_path", default=str(SESSIONS / "sim.cfg"), show_default=True,
              help="Acceptor QuickFIX settings: one [SESSION] per venue (Venue=NAME).")
@click.option("--market", "market_path", default=str(SESSIONS / "sim_market.toml"), show_default=True,
              help="Market file: price factors, venues, instruments, market makers.")
@click.option("--seed", type=int, default=None, help="Override the market file's seed.")
@click.option("--port", "ports", multiple=True, metavar="VENUE=PORT", help="Override a venue's accept port.")
@click.option("--store", default=None, help="Override FileStorePath for every session.")
@click.option("--db", "db_url", default=None, help="Audit database for the simulator's own messages (off if unset).")
@click.option("--credentials", "credentials_file", default=None,
              help="TOML file of expected venue credentials (else XMC_<VENUE>_PASSWORD; none: no check).")
@click.option("--scenario", default="calm", show_default=True,
              help="Venue behaviour: calm, chaos, or a scenario file (README \"Scenarios\").")
@click.option("--duration", type=click.FloatRange(min=0.1), default=None, help="Stop after this many seconds.")
@click.option("--positions", "positions_path", default=None,
              help="Where the venues' positions are written at stop and on SIGUSR1 (JSON; default "
                   "sim-positions.json in the store folder).")
@click.option("--acceptance-test", is_flag=True,
              help="Instead of the venues, serve the sessions QuickFIX's acceptance scripts expect (SenderCompID "
                   "ISLD, FIX.4.0 to FIXT.1.1) on the one port given as --port N, for `xmc certify`; "
                   "options other than --port and --duration are ignored.")
def sim(config_path, market_path, seed, ports, store, db_url, credentials_file, scenario, duration, positions_path,
        acceptance_test):
    """Run the exchange simulator: a QuickFIX acceptor for every venue in --config."""
    if os.environ.get("XMC_PARENT_PID", "").isdigit():
        from xmc_fix.procutil import die_with_parent
        die_with_parent(int(os.environ["XMC_PARENT_PID"]))
    if acceptance_test:
        return _acceptance_sim(ports, duration)
    from xmc_fix.sim.wiring import sim_from_files

    _existing(config_path, "QuickFIX settings file", "--config")
    server = sim_from_files(config_path, market_path, seed=seed, ports=_ports(ports), store=store, db_url=db_url,
                            credentials_file=credentials_file, scenario=scenario, positions_path=positions_path)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # SIGUSR1: write the venues' positions now (README "Simulator market file"), off the signal frame
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=server.write_positions, daemon=True).start())
    server.start()
    listening = ", ".join(dict.fromkeys(f"{s.venue}:{s.values['SocketAcceptPort']}" for s in server.sessions.sessions))
    click.echo(f"READY {listening}", nl=True)
    sys.stdout.flush()
    stop.wait(duration)
    server.stop()
    if server.audit is not None:
        server.audit.update("runs", {"run_id": server.audit.run_id, "ended_ns": time.time_ns()})
        server.audit.flush()
        server.audit.close()
    click.echo(f"sim stopped: {server.exchange.stats}", err=True)


@cli.command()
@click.option("--sessions", "sessions_path", default=str(SESSIONS / "venues.cfg"), show_default=True,
              help="Initiator QuickFIX settings: one [SESSION] per venue (Venue=NAME).")
@click.option("--strategy", "strategy_path", default=str(SESSIONS / "strategy.toml"), show_default=True,
              help="Strategy file: instruments, pairs, thresholds, limits.")
@click.option("--db", "db_url", default=default_db, show_default=DB_SHOWN, help=DB_HELP)
@click.option("--duration", type=click.FloatRange(min=0.1), default=None,
              help="Stop after this many seconds (default: until SIGINT/SIGTERM).")
@click.option("--credentials", "credentials_file", default=None,
              help="TOML file outside the repository, mode 600: [VENUE] username/password. "
                   "XMC_<VENUE>_USERNAME / XMC_<VENUE>_PASSWORD override it.")
@click.option("--port", "ports", multiple=True, metavar="VENUE=PORT", help="Override a venue's connect port.")
@click.option("--store", default=None, help="Override FileStorePath for every session.")
@click.option("--log-dir", default=None, help="Also write masked QuickFIX-style message logs here.")
@click.option("--journal", "journal_path", default=None,
              help="Intent journal the engine restarts from (default <data folder>/journal/<namespace>.jsonl).")
@click.option("--shadow", is_flag=True,
              help="Decide and record tickets and the orders they would send; send none (paper fills).")
@click.option("--control", "control_path", default=None,
              help="Control socket for xmc status/halt/... (default <data folder>/run/xmc-<namespace>.sock).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Prometheus metrics on 127.0.0.1:PORT/metrics (default: [engine] metrics_port; 0: off).")
@click.option("--quiet", is_flag=True, help="No progress lines.")
def run(sessions_path, strategy_path, db_url, duration, credentials_file, ports, store, log_dir, journal_path, shadow,
        control_path, metrics_port, quiet):
    """Run the engine against the venues in --sessions."""
    from xmc_fix.app import engine_from_files

    _existing(sessions_path, "QuickFIX settings file", "--sessions")
    _existing(strategy_path, "strategy file", "--strategy")
    _usable_database(db_url)
    app = engine_from_files(sessions_path, strategy_path, db_url, credentials_file=credentials_file,
                            ports=_ports(ports), store=store, log_dir=log_dir, command=" ".join(sys.argv),
                            journal_path=journal_path, shadow=shadow, control_path=control_path,
                            metrics_port=metrics_port)
    click.echo(f"run {app.run_id}: audit to {db_url}; control socket {app.control_path}"
               + (f"; metrics http://127.0.0.1:{app.metrics_port}/metrics" if app.metrics_port else ""), err=True)
    progress = None if quiet else (lambda line: click.echo(line, err=True))
    summary = app.run(duration, progress)
    click.echo(f"run {app.run_id} ended: {summary['tickets']} tickets {summary['by_state']}", err=True)
    click.echo(_chain_line(db_url, app.run_id))
    if _exposure_lines(summary):
        sys.exit(1)


def _exposure_lines(summary: dict) -> bool:
    """Say, as the last lines, what the engine stopped holding unhedged; True if anything."""
    held = summary.get("exposure") or []
    for h in held:
        what = f"ticket {h['ticket_id']} {h['state']}" if h["ticket_id"] else "positions held"
        extra = f", orders without a final report: {', '.join(h['orders_open'])}" if h["orders_open"] else ""
        click.echo(f"EXPOSURE: {h['pair']}: {what}, residual {h['residual']} {h['unit']}{extra}")
    if held:
        click.echo("stopped holding unhedged exposure: the journal keeps it; the next start asks the venues and "
                   "repairs it (or use xmc flatten)")
    return bool(held)


@cli.command()
@click.option("--db", "db_url", default=default_db, show_default=DB_SHOWN, help=DB_HELP)
@click.option("--run", "run_id", default="latest", show_default=True, help="Run id, or 'latest' engine run.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table",
              show_default=True,
              help="table for people, json (schema in the README) or csv (figure,value rows) for tools, html: one "
                   "self-contained file with plots and the acceptance table (default file <data folder>/report-<run>.html).")
@click.option("--out", "out_path", default=None, help="Write to this file instead of stdout.")
@click.option("--from", "start", default=None, metavar="T",
              help="Only tickets decided (and messages, events) at or after T: ISO-8601 UTC or epoch ns.")
@click.option("--to", "end", default=None, metavar="T",
              help="Only tickets decided (and messages, events) before T: ISO-8601 UTC or epoch ns.")
@click.option("--pair", default=None, help="Only this pair's tickets, and messages and events of its venues.")
def report(db_url, run_id, fmt, out_path, start, end, pair):
    """Figures of a run from the audit database (tickets, alignment, messages, legs, latency, costs)."""
    from xmc_fix.reports.figures import figures, load_run, render_csv, render_json, render_table
    from xmc_fix.reports.window import ReportFilter

    from xmc_fix.audit.database import translating

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
        raise ConfigError("database not found", file=db_url, key="--db", remedy="run `xmc demo` or pass --db")
    filt = ReportFilter.parse(start, end, pair)
    with translating(db_url):
        data = load_run(db_url, run_id, filt)
        figs = figures(data)
    if fmt == "html":
        from xmc_fix.reports.html import render_html
        path = Path(out_path or var_dir() / f"report-{figs['run_id']}.html")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(figs, data), encoding="utf-8")
        click.echo(str(path))
        return
    text = {"table": render_table, "json": render_json, "csv": render_csv}[fmt](figs)
    if out_path:
        Path(out_path).write_text(text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text, nl=not text.endswith("\n"))


def _usable_database(db_url: str) -> None:
    """Open the audit database before anything starts: a bad --db is one line and exit 2 here, not
    a writer process that dies after the sessions are up."""
    from xmc_fix.audit.database import check_usable

    check_usable(db_url)


def _chain_line(db_url: str, run_id: str) -> str:
    """The run's sealed audit-chain head, to be kept outside the database (README "Audit")."""
    from xmc_fix.audit.verify import chain_seal

    seal = chain_seal(db_url, run_id)
    if seal is None:
        return f"audit chain: run {run_id} not sealed (see `xmc audit verify --run {run_id}`)"
    length, head = seal
    return f"audit chain: run {run_id} sealed at {length} entries, head {head}"


@cli.group()
def audit() -> None:
    """Check the audit trail: tamper evidence (verify) and decision chains (trace)."""


@audit.command("verify")
@click.option("--db", "db_url", default=default_db, show_default=DB_SHOWN, help=DB_HELP)
@click.option("--run", "run_id", default="all", show_default=True,
              help="Run id, 'latest' (the latest engine run) or 'all'.")
@click.option("--store", "store_dir", default=None,
              help="QuickFIX FileStorePath to compare outgoing messages with (default: what the run recorded).")
@click.option("--head", "head", default=None,
              help="A chain head kept outside the database (printed at the end of a run): it must be in the chain.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table for people, json for tools.")
def audit_verify(db_url, run_id, store_dir, head, fmt):
    """Verify the hash chains and the FileStore against the database; exit 1 naming the first row
    that was changed, inserted or deleted."""
    from xmc_fix.audit.verify import verify

    if store_dir and not Path(store_dir).is_dir():
        raise ConfigError("folder not found", file=store_dir, key="--store", remedy="pass the session's FileStorePath")
    result = verify(db_url, run_id, store=store_dir, head=head)
    if fmt == "json":
        import json
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        click.echo(result.render(), nl=False)
    sys.exit(0 if result.ok else 1)


@audit.command("trace")
@click.argument("ticket")
@click.option("--db", "db_url", default=default_db, show_default=DB_SHOWN, help=DB_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table for people, json for tools.")
def audit_trace(ticket, db_url, fmt):
    """A ticket's decision chain as a timeline: market data, decision, risk verdict, orders, execution
    reports, transitions, repair steps and fills, with the time between steps."""
    from xmc_fix.audit.trace import render_json, render_table, trace

    tr = trace(db_url, ticket)
    click.echo(render_json(tr) if fmt == "json" else render_table(tr), nl=fmt == "json")


def _acceptance_sim(ports: tuple[str, ...], duration: float | None) -> None:
    """``xmc sim --acceptance-test --port N``: the acceptance-test acceptor until a signal or --duration."""
    from xmc_fix.sim.acceptance import AcceptanceServer

    if len(ports) != 1 or not ports[0].isdigit() or not 0 < int(ports[0]) < 65536:
        raise click.BadParameter("with --acceptance-test give one port number, e.g. --port 9880", param_hint="--port")
    server = AcceptanceServer(int(ports[0]))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    click.echo(f"READY acceptance-test port {server.port} ({len(server.sessions)} sessions, SenderCompID ISLD)")
    sys.stdout.flush()
    stop.wait(duration)
    server.stop()
    click.echo(f"acceptance-test sim stopped: {server.app.echoed} messages echoed, "
               f"{server.app.dropped_resends} PossResend orders dropped", err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Host of the FIX acceptor under test.")
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="TCP port of the FIX acceptor under test.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for each expected message, for an expected disconnect, and to connect.")
@click.option("--pause", type=click.FloatRange(min=0), default=0.1, show_default=True,
              help="Seconds between cases, so the acceptor can finish one case's disconnect before the next logon.")
@click.option("--fields", "fields_path", default=None,
              help="fields.fmt file (TAG=REGEX lines) of fields whose values only have to match "
                   "(default: QuickFIX's, for 10, 42, 52, 60, 122).")
@click.argument("defs", nargs=-1, required=True, metavar="DEFS...")
def certify(host, port, timeout, pause, fields_path, defs):
    """Play QuickFIX acceptance scripts (.def files, or directories of them) against a FIX acceptor.

    Prints one line per case (PASS, or FAIL with the failing step and the expected and received
    messages, SOH shown as |) and a total. Exit code 0 when every case passes, 1 when any fails, 2
    on bad usage or an unreadable or malformed .def file. Any FIX gateway can be tested: configure
    it with the scripts' CompIDs (tests/conformance/quickfix-at/README.md); `xmc sim
    --acceptance-test` serves them.
    """
    from xmc_fix.conformance import deffile
    from xmc_fix.conformance.compare import FieldPatterns
    from xmc_fix.conformance.runner import Target, run_cases

    patterns = FieldPatterns.load(fields_path) if fields_path else FieldPatterns.default()
    scripts = [deffile.load(p) for p in deffile.collect(list(defs))]
    target = Target(host, port, timeout=timeout, connect_timeout=timeout, pause=pause)
    summary = run_cases(scripts, target, patterns, on_result=lambda r: click.echo(r.line()))
    click.echo(summary.line())
    sys.exit(0 if summary.failed == 0 else 1)


# -- operator control of a running engine ---------------------------------------------------------
@cli.group()
def basis() -> None:
    """Pricing checks: the pair's basis and aligned lots from prices you give."""


@basis.command("calc")
@click.option("--strategy", "strategy_path", default=str(SESSIONS / "strategy.toml"), show_default=True,
              help="Strategy file with the pair.")
@click.option("--pair", required=True, help="The pair to price.")
@click.option("--price", "prices", multiple=True, required=True, metavar="VENUE=PX|VENUE=BID/ASK",
              help="A leg's price (repeat for each leg; BID/ASK prices the basis each way).")
@click.option("--fx", "fx", default=None, help="FX rate (quote per base) when the pair converts currencies.")
@click.option("--qty", default=None, help="Quantity to align, in the inner leg's unit (default: ticket_qty).")
@click.option("--position", default="0", show_default=True,
              help="The pair's basis position, in the inner leg's unit (long positive, short negative): "
                   "the signal then says whether the engine would exit.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of the table.")
def basis_calc(strategy_path, pair, prices, fx, qty, position, as_json):
    """Basis, converted prices and aligned lots per leg with the residual."""
    from decimal import Decimal, InvalidOperation

    from xmc_fix.basis.calc import calc, parse_price, render
    from xmc_fix.config import load_strategy

    strategy = load_strategy(_existing(strategy_path, "strategy file", "--strategy"))
    try:
        fx_d = Decimal(fx) if fx is not None else None
        qty_d = Decimal(qty) if qty is not None else None
        pos_d = Decimal(position)
    except InvalidOperation:
        raise click.BadParameter("expected a number", param_hint="--fx/--qty/--position") from None
    result = calc(strategy, pair, dict(parse_price(p) for p in prices), fx_d, qty_d, pos_d)
    if as_json:
        import json as _json
        click.echo(_json.dumps(result, indent=2))
    else:
        click.echo(render(result), nl=False)


@cli.command()
@click.option("--quick", is_flag=True, help="Fewer samples and shorter floods: about two minutes.")
@click.option("--json", "json_path", default=None, help="Write every figure as JSON here.")
@click.option("--html", "html_path", default=None,
              help="Write the table and the histograms (xmc_fix beside the plain script) as HTML here.")
@click.option("--markdown", "markdown_path", default=None, help="Write the targets and figures as Markdown tables here "
              "(the README's).")
@click.option("--md-path", is_flag=True, help="Only what one market-data refresh costs in Python, in-process "
              "(xmc_fix's decoder and engine against the plain script's handler): a few seconds.")
@click.option("--profile", "profile_dir", default=None, metavar="DIR",
              help="Only where the session thread's Python time goes in the flood, xmc_fix beside the plain "
                   "script, sampled by py-spy: tables, a plot and the collapsed stacks into DIR (about a minute).")
@click.option("--profile-seconds", default=5.0, show_default=True, type=click.FloatRange(0.2, 120),
              help="With --profile: how long the venue floods each peer.")
@click.option("--tiny", is_flag=True, hidden=True, help="A token load, for the test of the benchmark machinery.")
def bench(quick, json_path, html_path, markdown_path, md_path, profile_dir, profile_seconds, tiny):
    """Measure xmc_fix against a plain QuickFIX-Python pair script and QuickFIX-Python's own floor,
    in one run on this machine, and report each performance target as met or not."""
    if profile_dir:
        from xmc_fix.bench import profile
        profile.main(profile_dir, profile_seconds, progress=lambda s: click.echo(s, err=True))
        click.echo((Path(profile_dir) / "profile.md").read_text(), nl=False)
        return
    if md_path:
        from xmc_fix.bench import mdpath
        mdpath.main([])
        return
    from xmc_fix.bench.run import main as bench_main, render_table

    out = bench_main(quick, json_path, html_path, tiny=tiny, progress=lambda s: click.echo(s, err=True),
                     markdown_path=markdown_path)
    click.echo(render_table(out), nl=False)


def main() -> None:
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    cli(prog_name="xmc")


if __name__ == "__main__":
    main()
