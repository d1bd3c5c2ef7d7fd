"""Match: which watched entities and lists an item names. Watchlist YAML is read and
validated (reader.py), compiled into automata (tables.py, watchlists.py), cached (rules.py),
and scanned over folded text (normalize.py, matching.py). Pure: no I/O but the rules files."""
