"""Render: what people read. Telegram HTML with a plain twin for alerts (alerts.py),
command replies (replies.py), digests (digest.py) and admin notices (notices.py), built from
the primitives of text.py; terminal text and JSON lines for the CLI and console mode (terminal.py). Pure functions."""
