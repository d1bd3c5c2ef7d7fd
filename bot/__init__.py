"""newsbot: watch RSS/Atom feeds for China's generative-AI industry and alert on watched entities."""

__version__ = "0.1.0"
USER_AGENT = f"newsbot/{__version__} (+https://github.com/newsbot/newsbot; feed watcher)"
