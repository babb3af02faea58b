# postseal — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= var
DEMO_URL ?= http://localhost:8080/pki
# Debian packages the tests use as real peers (see ../shared/INTEROP.md). swaks only
# recommends Net::SSLeay, which it needs for STARTTLS: it is named here.
PEERS := openssl gpgsm libnss3-tools swaks libnet-ssleay-perl clamav-daemon postfix dovecot-imapd dovecot-pop3d isync

.PHONY: run test check lint typecheck layers pytest peers venv bench clean

# The C extension (ADR 0026) is compiled by the install: a change to it reinstalls.
$(BIN)/.installed: pyproject.toml $(wildcard src/postseal/*/*.c)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "postseal needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/.installed
	@# the editable install keeps the compiled extension in src/: rebuild it if it went missing
	@$(BIN)/python -c 'import postseal.mail._octets' 2>/dev/null || \
		{ command -v cc >/dev/null && $(BIN)/pip install --quiet -e ".[dev]" || true; }

# Installs the Debian peers when run as root and any is missing; otherwise says what is missing.
peers:
	@missing=""; for p in $(PEERS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing test peers:$$missing"; \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "not root: tests needing$$missing will be skipped (sudo apt-get install$$missing)"; \
	fi

run: venv
	@if [ ! -e "$(DATA_DIR)/master.key" ]; then \
		$(BIN)/postseal --data-dir "$(DATA_DIR)" init --org "Demo Organisation" --domain example.org \
			--hostname localhost --pki-url "$(DEMO_URL)" --key-type ecdsa-p256; \
	fi
	exec $(BIN)/postseal --data-dir "$(DATA_DIR)" serve --listen http=127.0.0.1:8080 \
		--listen smtp=127.0.0.1:2525 --listen submission=127.0.0.1:2587 --listen submissions=127.0.0.1:2465 \
		--listen imap=127.0.0.1:2143 --listen imaps=127.0.0.1:2993 --listen pop3=127.0.0.1:2110 --listen pop3s=127.0.0.1:2995

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: venv
	$(BIN)/mypy

layers: venv
	$(BIN)/lint-imports

pytest: venv peers
	$(BIN)/pytest -q

check: lint typecheck layers

test: check pytest

bench: venv
	$(BIN)/python bench/pki.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist src/*.egg-info
	find src -name '*.so' -delete
