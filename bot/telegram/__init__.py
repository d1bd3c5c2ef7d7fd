"""Telegram: the bot's front. The composition root that wires the runtime to
python-telegram-bot (app.py), the chat commands (commands.py), and the outbox worker that
delivers alerts within Telegram's limits (deliver.py)."""
