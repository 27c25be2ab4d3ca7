"""The Prometheus endpoint (``xmc run --metrics-port``, ``[engine] metrics_port``): what the engine
knows, read when Prometheus scrapes and never updated per message (README "Metrics").

- :mod:`snapshot` — the facts one scrape reads: the engine's, taken through its Serializer between
  two callbacks, and the sessions' and the audit writer's, read beside it;
- :mod:`collector` — the custom collector that turns facts into metric families (histograms built
  from the latency samples the engine keeps anyway);
- :mod:`server` — the HTTP server on 127.0.0.1, in a process of its own (the renderer); the engine's
  process only reads the facts and hands them over.
"""
