"""``xmc status | halt | resume | flatten | cancel-all | set-mode | set-size | reconcile | watch | web``: the commands that
talk to a running engine over its control socket. Parsing only; the screens are
:mod:`xmc_fix.control.screens`, the web view :mod:`xmc_fix.web`."""

from __future__ import annotations

import json
import os
import sys
import time

import click

from xmc_fix.cli.base import cli
from xmc_fix.control.screens import print_status, render_reconcile, render_watch


def _socket_option(f):
    f = click.option("--socket", "socket_path", default=None,
                     help="The engine's control socket (default <data folder>/run/xmc-<namespace>.sock).")(f)
    return click.option("--namespace", default="X", show_default=True,
                        help="The engine's ClOrdID namespace, which names its default socket.")(f)


def _control(socket_path, namespace, cmd, **args) -> dict:
    from xmc_fix.control.client import request
    from xmc_fix.control.server import default_socket
    return request(socket_path or default_socket(namespace), cmd, **args)


@cli.command()
@_socket_option
@click.option("--json", "as_json", is_flag=True, help="The engine's full status as JSON.")
def status(socket_path, namespace, as_json):
    """States, positions, open tickets and recent alerts of a running engine."""
    st = _control(socket_path, namespace, "status")
    if as_json:
        import json as _json
        click.echo(_json.dumps(st, indent=2, default=str))
    else:
        print_status(st)


@cli.command()
@_socket_option
@click.option("--pair", default=None, help="Halt one pair (default: everything).")
@click.option("--reason", default=None, help="Why, for the audit trail and the alert.")
def halt(socket_path, namespace, pair, reason):
    """HALTED: no new exposure (cancels and the flatten path still work)."""
    st = _control(socket_path, namespace, "halt", pair=pair, reason=reason)
    print_status(st)


@cli.command()
@_socket_option
@click.option("--pair", default=None, help="Resume one pair (default: the global state).")
def resume(socket_path, namespace, pair):
    """Clear operator and breach holds (a session down or stale data still holds until it clears)."""
    st = _control(socket_path, namespace, "resume", pair=pair)
    print_status(st)


@cli.command()
@_socket_option
@click.option("--pair", default=None, help="Flatten one pair (default: every pair, and halt globally).")
def flatten(socket_path, namespace, pair):
    """The kill switch: halt, cancel working orders, take every position to zero. Works while HALTED."""
    res = _control(socket_path, namespace, "flatten", pair=pair, timeout=30)
    for f in res["flatten"]:
        click.echo(f"{f['pair']}: {f['state']}" + (f" ({f['ticket']})" if f.get("ticket") else ""))
    print_status(res["status"])


@cli.command(name="set-mode")
@_socket_option
@click.option("--pair", required=True, help="The pair whose mode changes.")
@click.argument("mode", type=click.Choice(["live", "shadow"]))
def set_mode(socket_path, namespace, pair, mode):
    """Gray release: a pair in shadow decides and records shadow tickets and sends nothing; live trades.
    Refused while a ticket of the pair is open; kept across restarts (README "Gray release")."""
    res = _control(socket_path, namespace, "set-mode", pair=pair, mode=mode)
    click.echo(res["message"])
    click.echo(_release_line(res))


@cli.command(name="set-size")
@_socket_option
@click.option("--pair", required=True, help="The pair whose live size cap changes.")
@click.argument("qty")
def set_size(socket_path, namespace, pair, qty):
    """Gray release: cap the pair's live tickets at QTY (in its ticket quantity's unit), or 'none' for
    the full ticket_qty. Refused while a ticket of the pair is open, or for a size no lots match."""
    res = _control(socket_path, namespace, "set-size", pair=pair, qty=qty)
    click.echo(res["message"])
    click.echo(_release_line(res))


def _release_line(res: dict) -> str:
    return (f"{res['pair']}: {res['mode']}; tickets open {res['ticket_qty']} {res['unit']} "
            f"({res['lots'][0]} / {res['lots'][1]} lots)" + (f"; shadow tickets {res['shadow_tickets']}"
                                                            if res["mode"] == "shadow" else ""))


@cli.command()
@_socket_option
@click.option("--venue", default=None, help="Only this venue (default: every venue whose session is up).")
@click.option("--wait", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for the venues' answers.")
@click.option("--json", "as_json", is_flag=True, help="The comparison as JSON.")
def reconcile(socket_path, namespace, venue, wait, as_json):
    """Compare a running engine's orders and positions with the venues' own (mass status, position
    reports) now; differences are resolved toward the venue and hold the pairs they touch."""
    started = _control(socket_path, namespace, "reconcile", venue=venue)
    deadline = time.monotonic() + wait
    while True:
        res = _control(socket_path, namespace, "reconcile-result")
        fresh = {v: r for v, r in res["results"].items() if r["ended_ns"] >= started["at_ns"]}
        if not res["in_progress"] or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    if as_json:
        click.echo(json.dumps({"started": started["started"], "results": fresh, "in_progress": res["in_progress"]},
                              indent=2))
    else:
        click.echo(render_reconcile(started["started"], fresh, res["in_progress"]))
    sys.exit(1 if any(r["differences"] or r["incomplete"] for r in fresh.values()) or res["in_progress"] else 0)


@cli.command(name="cancel-all")
@_socket_option
@click.option("--pair", default=None, help="Only this pair's orders (default: all).")
def cancel_all(socket_path, namespace, pair):
    """Cancel every working order (states are unchanged)."""
    res = _control(socket_path, namespace, "cancel-all", pair=pair)
    click.echo(f"cancel requested for {len(res['cancelled'])} orders")


@cli.command()
@_socket_option
@click.option("--pair", default=None, help="Only this pair (default: all).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=0.5, show_default=True,
              help="Seconds between refreshes.")
@click.option("--once", is_flag=True, help="Print one screen and exit (for scripts and logs).")
def watch(socket_path, namespace, pair, interval, once):
    """Live: both legs' books side by side, FX, the basis each way, thresholds, quote ages, markets,
    positions, open tickets and alerts of a running engine."""
    while True:
        screen = render_watch(_control(socket_path, namespace, "watch", pair=pair))
        if once:
            click.echo(screen, nl=False)
            return
        click.echo("\x1b[2J\x1b[H" + screen, nl=False)
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


@cli.command()
@click.option("--control", "--socket", "socket_path", default=None,
              help="The engine's control socket, as xmc status takes it (default var/run/xmc-<namespace>.sock).")
@click.option("--namespace", default="X", show_default=True,
              help="The engine's ClOrdID namespace, which names its default socket.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (the view never listens on other interfaces).")
@click.option("--interval", type=click.FloatRange(min=0.05, max=5), default=0.25, show_default=True,
              help="Seconds between polls of the engine (status about once a second).")
@click.option("--control-token", "token_file", default=None,
              help="Enable halt/resume/flatten/cancel-all from the page for browsers that send the token in "
                   "this file (mode 600, yours; refused if wider). Without it the view is read-only.")
def web(socket_path, namespace, port, interval, token_file):
    """Live view of a running engine in the browser: both books, FX, the basis each way against the
    thresholds as a chart, signals and refusals, positions, tickets, alerts, states and sessions."""
    if os.environ.get("XMC_PARENT_PID", "").isdigit():   # started by a test or scripts/demo: go with it
        from xmc_fix.procutil import die_with_parent
        die_with_parent(int(os.environ["XMC_PARENT_PID"]))
    from xmc_fix.control.server import default_socket
    from xmc_fix.web.server import serve
    from xmc_fix.web.token import load_token

    token = load_token(token_file) if token_file else None
    sock = socket_path or default_socket(namespace)

    def ready(url: str) -> None:
        mode = (f"control enabled (token from {token_file}: paste it into the page, or open {url}#token=<token>)"
                if token else "read-only")
        click.echo(f"xmc web: {url}  engine {sock}  {mode}")
        sys.stdout.flush()

    serve(sock, port, token=token, interval=interval, ready=ready)
