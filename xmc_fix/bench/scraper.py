"""The bench's Prometheus stand-in: a process of its own that fetches the engine's metrics endpoint
every ``interval`` seconds until its standard input closes, then prints how many scrapes answered.

A real Prometheus is another process (usually another machine): scraping from inside the engine's
own process would charge the engine for the scraper's HTTP client, which it never runs. It reads
nothing and checks nothing but the status of each answer.

    python -m xmc_fix.bench.scraper URL INTERVAL_S
"""

from __future__ import annotations

import sys
import threading
import urllib.request


def main(url: str, interval: float) -> int:
    done = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()        # returns when the bench closes our standard input
        done.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    scrapes = 0
    print("READY", flush=True)
    while not done.is_set():
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
                if r.status == 200:
                    scrapes += 1
        except OSError:
            pass
        done.wait(interval)
    print(scrapes, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
