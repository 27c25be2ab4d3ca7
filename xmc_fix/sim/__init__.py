"""The exchange simulator: a QuickFIX acceptor serving every configured venue, each with its own
price-time-priority matching engine, market makers and market-data feed."""
