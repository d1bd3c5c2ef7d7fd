"""Ingest: feeds in. Fetch over HTTP (fetch.py, pool.py, netbackend.py), parse the bytes into
items (parse.py), and run one poll cycle end to end (pipeline.py: fetch → parse → match →
store, bounded at every stage)."""
