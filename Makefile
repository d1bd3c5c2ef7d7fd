# The README's two commands: `make run` and `make test`. Each sets up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean fonts messages chromium screenshots

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@# -qq: errors only. The build backend's notices (editable install) and a machine's pip
	@# configuration warnings are not a newcomer's business; a failure still prints.
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e '.[test]'
	$(BIN)/python -m compileall -q bot
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/newsbot run

test: $(STAMP)
	PTB_TIMEDELTA=1 $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/poll_cycle.py

# Charts draw Chinese names with a CJK font from Debian's packages (needs root; charts fall
# back to Latin-only fonts without it, and the test of Chinese glyphs is skipped).
fonts:
	@dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || { apt-get update -qq && \
	  apt-get install -y -qq fonts-wqy-microhei >/dev/null; } || \
	  echo "make fonts: could not install fonts-wqy-microhei (run as root)"

# The Chinese catalog: extract the code's English messages, merge them into the .po (new ones
# untranslated, which tests/test_i18n.py reports until they are translated).
LOCALE := bot/render/locale
messages: $(STAMP)
	$(BIN)/pybabel extract --no-location --sort-output --omit-header -o $(LOCALE)/newsbot.pot bot
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --width 100 -i $(LOCALE)/newsbot.pot \
	  -d $(LOCALE) -D newsbot -l zh

# The web tests drive a real headless browser: Chromium from Debian's packages (needs root;
# without it those tests skip with the reason, they never fail).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
	  apt-get install -y -qq chromium >/dev/null; } || \
	  echo "make chromium: could not install chromium (run as root)"

# The README's screenshots of `newsbot web`, taken by the tests' headless browser.
screenshots: $(STAMP)
	PTB_TIMEDELTA=1 $(BIN)/python -m tests.screenshots docs

clean:
	rm -rf $(VENV)
