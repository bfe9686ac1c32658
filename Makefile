# Two commands do everything on a fresh machine:
#   make demo   creates .venv, installs ctk, builds the demo library, runs embed -> cluster -> playlist
#   make test   the same set-up (with the ctk[ray] extra, whose tests start a local Ray), then the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CTK := $(VENV)/bin/ctk
DEMO ?= demo
# torch: where no NVIDIA GPU is present, pin the CPU build first (it installs from local disk
# on our machines; any other spec pulls a multi-GB CUDA build). With a GPU, take the default build.
TORCH_SPEC ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo "torch>=2.4" || echo "torch==2.13.0")

.PHONY: setup demo test lint bench faults clean chromium mpd

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,ray]"
	touch $@

setup: $(VENV)/.installed

# Chromium renders the map pages, and drives `ctk serve`'s page through Selenium with Debian's chromedriver
# (nothing is downloaded at test time); install both where we may (CI runs as root).
chromium:
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && \
	  { command -v chromedriver >/dev/null 2>&1 || test -x /usr/bin/chromedriver; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null) ; } || \
	  echo "note: chromium/chromedriver not installed; the map and ctk serve browser tests need them (apt-get install chromium chromium-driver)"

# Debian's mpd: the MPD export tests start a real one on 127.0.0.1 (they fail, not skip, without it).
mpd:
	@command -v mpd >/dev/null 2>&1 || test -x /usr/bin/mpd || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mpd >/dev/null) ; } || \
	  echo "note: mpd not installed; the MPD export tests need it (apt-get install mpd)"

demo: setup
	$(PY) examples/make_demo_library.py $(DEMO)/music
	$(CTK) embed $(DEMO)/music --library $(DEMO)/.ctk
	$(CTK) status --library $(DEMO)/.ctk
	$(CTK) cluster --library $(DEMO)/.ctk --method kmeans --k auto --labels genre
	$(CTK) clusters show latest --library $(DEMO)/.ctk
	$(CTK) map --library $(DEMO)/.ctk --color cluster:latest --out $(DEMO)/map.html
	$(CTK) playlist --hull --cluster latest:0 --length 8 --library $(DEMO)/.ctk --out $(DEMO)/cluster0.m3u8
	$(CTK) playlist --hull --seeds "Juniper Lane - Midnight Café" --seeds "Clara Vey - Copper Lantern" \
	  --seeds "Glass Harbour - Neon Signal" --seeds "Ivory Hours - Blue Café" --length 10 --library $(DEMO)/.ctk --out $(DEMO)/evening.m3u8
	$(CTK) recommend --liked $(DEMO)/music/Playlists/Chill.m3u8 --n 5 --explain --library $(DEMO)/.ctk
	@echo "demo done: playlists and map in $(DEMO)/ (open $(DEMO)/map.html)"

test: setup chromium mpd
	$(VENV)/bin/ruff check embeddings cluster_toolkit playlists tests bench examples
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) bench/embed_throughput.py

# the fault-injection suite as the table of docs/RELIABILITY.md (case, expected, observed)
faults: setup
	$(PY) bench/fault_table.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache
