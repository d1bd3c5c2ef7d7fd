"""Run: the running bot without Telegram. The configuration loaded and hot-reloaded, the
scheduler that polls due feeds, feed health checks, digests, and the console mode
(runtime.py)."""
