# Two commands on a fresh machine: `make serve` and `make test` (README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= matchmaker.db
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test install install-test system-deps demo bench clean

serve: $(VENV)/.installed
	$(BIN)/matchmaker demo --db $(DB) --if-empty
	$(BIN)/matchmaker serve --db $(DB) --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

# Debian's Chromium (the browser tests and PDF sheets; never a downloaded browser),
# Chinese fonts for pages and PDFs, and pdftoppm/pdffonts to look at the PDFs.
system-deps:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK" \
	    || ! command -v pdftoppm >/dev/null; then \
	  echo "Installing chromium, fonts-noto-cjk, poppler-utils (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk poppler-utils >/dev/null; \
	fi

demo: $(VENV)/.installed
	$(BIN)/matchmaker demo --db $(DB)

clean:
	rm -rf $(VENV) $(DB) $(DB)-wal $(DB)-shm .pytest_cache
