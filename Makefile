# loopd — one GNU makefile. Objects and binaries go to build/.
#
#   make                       build/loopd and build/loopctl
#   make check                 unit, golden and integration tests
#   make SANITIZE=address,undefined check
#   make deps                  install missing build packages (as root)
#   make test-deps             and the test tools (make check does it)
#   make install / uninstall   [PREFIX=/usr/local] [DESTDIR=]
#
# Project flags live in LOOPD_CFLAGS so a user's CFLAGS/LDFLAGS add to them
# instead of replacing them.

PKGS      := libevent libmicrohttpd jansson libcurl gnutls sqlite3 libsystemd
BUILD     ?= build
CC        ?= cc
CFLAGS    ?= -O2 -g
PREFIX    ?= /usr/local
PYTHON    ?= python3
VERSION   := 0.1.0

# Install what building needs before anything asks pkg-config about it.
# Test tools come only with the test targets (scripts/deps test), and no
# package installed either way starts a service.
DEPS_OK := $(shell scripts/deps build >&2 && echo ok)
ifneq ($(DEPS_OK),ok)
$(error scripts/deps failed: missing build dependencies)
endif
TEST_GOALS := check integration valgrind fuzz fuzz-smoke test-deps browser
TEST_DEPS  := $(if $(filter $(TEST_GOALS),$(MAKECMDGOALS)),test-deps)
# promtool lives here when no package provides it (see scripts/deps).
TOOLS      := $(abspath build/tools)
TEST_PATH  := PATH="$(TOOLS)/bin:$$PATH"

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wpointer-arith -Wcast-qual -Wwrite-strings \
        -Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough \
        -Wno-unused-parameter -Werror
LOOPD_CFLAGS := -std=c11 -D_GNU_SOURCE -DLOOPD_VERSION='"$(VERSION)"' $(WARN) -I. $(shell pkg-config --cflags $(PKGS)) -MMD -MP
LOOPD_LIBS   := $(shell pkg-config --libs $(PKGS)) -lm -pthread

ifneq ($(SANITIZE),)
LOOPD_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LOOPD_LDFLAGS += -fsanitize=$(SANITIZE)
BUILD := build/san
endif

PROTO_SRC  := $(wildcard proto/*.c)
CORE_SRC   := $(wildcard daemon/core/*.c)
RECUR_SRC  := $(wildcard recur/*.c)
# daemon/util: plain libc helpers, shared by loopd and loopctl.
UTIL_SRC   := $(wildcard daemon/util/*.c)
DAEMON_SRC := $(wildcard daemon/*.c daemon/util/*.c daemon/exec/*.c daemon/action/*.c daemon/http/*.c daemon/store/*.c)
CLIENT_SRC := $(wildcard client/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

PROTO_OBJ  := $(call obj,$(PROTO_SRC))
CORE_OBJ   := $(call obj,$(CORE_SRC))
RECUR_OBJ  := $(call obj,$(RECUR_SRC))
UTIL_OBJ   := $(call obj,$(UTIL_SRC))
DAEMON_OBJ := $(call obj,$(DAEMON_SRC))
CLIENT_OBJ := $(call obj,$(CLIENT_SRC))
# Unit tests link everything but the daemon's main().
LIB_OBJ    := $(PROTO_OBJ) $(RECUR_OBJ) $(CORE_OBJ) $(filter-out $(BUILD)/obj/daemon/main.o,$(DAEMON_OBJ))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all check unit golden integration clean deps test-deps install uninstall \
	bench valgrind
# A SANITIZE= build lives in build/san, apart from the plain one.
all: $(BUILD)/loopd $(BUILD)/loopctl

$(BUILD)/loopd: $(PROTO_OBJ) $(RECUR_OBJ) $(CORE_OBJ) $(DAEMON_OBJ)
	$(CC) $(LDFLAGS) $(LOOPD_LDFLAGS) -o $@ $^ $(LOOPD_LIBS)

$(BUILD)/loopctl: $(PROTO_OBJ) $(RECUR_OBJ) $(UTIL_OBJ) $(CLIENT_OBJ)
	$(CC) $(LDFLAGS) $(LOOPD_LDFLAGS) -o $@ $^ $(LOOPD_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LOOPD_CFLAGS) $(CFLAGS) $(LDFLAGS) $(LOOPD_LDFLAGS) -o $@ $< $(LIB_OBJ) $(LOOPD_LIBS)

# Client modules with unit tests of their own (no main(), no network).
$(BUILD)/tests/test_timeparse: tests/unit/test_timeparse.c $(LIB_OBJ) \
    $(BUILD)/obj/client/timeparse.o
	@mkdir -p $(dir $@)
	$(CC) $(LOOPD_CFLAGS) $(CFLAGS) $(LDFLAGS) $(LOOPD_LDFLAGS) -o $@ $< \
	  $(LIB_OBJ) $(BUILD)/obj/client/timeparse.o $(LOOPD_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LOOPD_CFLAGS) $(CFLAGS) -c -o $@ $<

# The OpenAPI document is embedded in the daemon (.incbin).
$(BUILD)/obj/daemon/http/openapi.o: proto/openapi.json
# So is the web console (docs/console.md).
UI_FILES := ui/index.html ui/app.css ui/app.js
$(BUILD)/obj/daemon/http/api_ui.o: $(UI_FILES)

# libFuzzer (clang) over the request decoder and the routes: a short run in
# `make check`, as long as you like with `make fuzz FUZZ_TIME=600`. New
# inputs that libFuzzer finds go to build/fuzz/corpus, never into the tree.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 600
FUZZ_SMOKE ?= 15
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -O1 -g
FUZZ_OBJ   := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(PROTO_SRC) $(RECUR_SRC) $(CORE_SRC) \
              $(filter-out daemon/main.c,$(DAEMON_SRC)))

$(FUZZ_BUILD)/obj/%.o: %.c | $(TEST_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(LOOPD_CFLAGS) $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_BUILD)/obj/daemon/http/openapi.o: proto/openapi.json
$(FUZZ_BUILD)/obj/daemon/http/api_ui.o: $(UI_FILES)

$(FUZZ_BUILD)/fuzz_api: tests/fuzz/fuzz_api.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(filter-out -MMD -MP,$(LOOPD_CFLAGS)) -fsanitize=fuzzer,address,undefined \
	  -fno-omit-frame-pointer -O1 -g -o $@ $^ $(LOOPD_LIBS)

.PHONY: fuzz fuzz-smoke
fuzz fuzz-smoke: $(FUZZ_BUILD)/fuzz_api
	@mkdir -p $(FUZZ_BUILD)/corpus
	@$(FUZZ_BUILD)/fuzz_api -max_total_time=$(if $(filter fuzz-smoke,$@),$(FUZZ_SMOKE),$(FUZZ_TIME)) \
	  -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus tests/fuzz/corpus \
	  > $(FUZZ_BUILD)/fuzz.log 2>&1; rc=$$?; \
	  if [ $$rc -eq 0 ]; then grep -E 'stat::(number_of_executed_units|new_units)' $(FUZZ_BUILD)/fuzz.log; \
	  else tail -60 $(FUZZ_BUILD)/fuzz.log; fi; \
	  echo "fuzz: $$([ $$rc -eq 0 ] && echo 1 passed, 0 failed || echo 0 passed, 1 failed)"; exit $$rc

check: layers unit integration fuzz-smoke browser

# The web console in headless Chromium (tests/browser/): run when Chromium
# is installed (make test-deps installs Debian's chromium), skipped - and
# said so - when it is not. Screenshots go to build/screenshots/.
.PHONY: browser
browser: all | $(TEST_DEPS)
	$(TEST_PATH) LOOPD=$(abspath $(BUILD)/loopd) LOOPCTL=$(abspath $(BUILD)/loopctl) \
	  $(PYTHON) tests/browser/test_console.py

# No file includes a header of a layer above its own (scripts/check-layers).
.PHONY: layers
layers:
	@scripts/check-layers --self-test && scripts/check-layers

# The test targets install the test tools first when they are asked for
# (order-only: the tests never wait on each other for it).
unit integration fuzz fuzz-smoke valgrind: | $(TEST_DEPS)

test-deps:
	scripts/deps test

unit: $(UNIT_BIN)
	@tests/run-unit $(UNIT_BIN)

integration: all
	$(TEST_PATH) LOOPD=$(abspath $(BUILD)/loopd) LOOPCTL=$(abspath $(BUILD)/loopctl) \
	  $(PYTHON) tests/integration/run.py $(TESTS)

# The crash-testing harness, long: make chaos CYCLES=200 (make check runs
# five cycles in tests/integration/test_chaos.py).
CYCLES ?= 200
.PHONY: chaos
chaos: all
	LOOPD=$(abspath $(BUILD)/loopd) $(PYTHON) tests/chaos/chaos.py --cycles $(CYCLES)

# Benchmarks: one table, and bench/results.json (bench/README.md explains
# every figure). make bench BENCH="await --quick" runs a part.
bench: all
	$(MAKE) -C bench
	bench/run --no-build $(BENCH)

# The integration suite with loopd under valgrind's memcheck.
valgrind: all
	$(TEST_PATH) LOOPD=$(abspath tests/valgrind-loopd) LOOPD_REAL=$(abspath $(BUILD)/loopd) \
	  LOOPCTL=$(abspath $(BUILD)/loopctl) $(PYTHON) tests/integration/run.py $(TESTS)

deps:
	scripts/deps build

# make install [PREFIX=/usr/local] [DESTDIR=]: binaries, config (kept if
# present), systemd units and sysusers/tmpfiles snippets, man pages and
# bash completion. The units refer to $(PREFIX) paths. The systemd
# directories are pkg-config's (systemd.pc) for PREFIX=/usr, and the same
# under $(PREFIX) otherwise (/usr/local/lib/systemd/system and friends are
# on systemd's search paths); any of them can be given on the command line.
SYSCONFDIR ?= /etc
SD_ROOT    := $(if $(filter /usr,$(PREFIX)),,$(PREFIX))
sd_var      = $(shell pkg-config --define-variable=prefix=$(PREFIX) \
                --define-variable=root_prefix=$(SD_ROOT) --variable=$(1) systemd 2>/dev/null)
SYSTEMD_UNITDIR     ?= $(or $(call sd_var,systemdsystemunitdir),$(SD_ROOT)/lib/systemd/system)
SYSTEMD_USERUNITDIR ?= $(or $(call sd_var,systemduserunitdir),$(PREFIX)/lib/systemd/user)
SYSUSERSDIR         ?= $(or $(call sd_var,sysusersdir),$(PREFIX)/lib/sysusers.d)
TMPFILESDIR         ?= $(or $(call sd_var,tmpfilesdir),$(PREFIX)/lib/tmpfiles.d)
USER_UNITS := $(wildcard systemd/user/*.service systemd/user/*.socket)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/loopd \
	  $(DESTDIR)$(SYSCONFDIR)/loopd $(DESTDIR)$(SYSTEMD_UNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BUILD)/loopd $(BUILD)/loopctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 systemd/loopd-reload $(DESTDIR)$(PREFIX)/libexec/loopd/
	test -e $(DESTDIR)$(SYSCONFDIR)/loopd/loopd.conf || \
	  install -m 0644 etc/loopd.conf $(DESTDIR)$(SYSCONFDIR)/loopd/loopd.conf
	sed -e 's|/usr/local|$(PREFIX)|g' -e 's|/etc/loopd|$(SYSCONFDIR)/loopd|g' \
	  systemd/loopd.service > $(DESTDIR)$(SYSTEMD_UNITDIR)/loopd.service
	install -m 0644 systemd/loopd.socket $(DESTDIR)$(SYSTEMD_UNITDIR)/
	$(if $(USER_UNITS),install -d $(DESTDIR)$(SYSTEMD_USERUNITDIR))
	$(foreach u,$(USER_UNITS),sed 's|/usr/local|$(PREFIX)|g' $(u) > \
	  $(DESTDIR)$(SYSTEMD_USERUNITDIR)/$(notdir $(u));)
	install -m 0644 systemd/loopd.sysusers $(DESTDIR)$(SYSUSERSDIR)/loopd.conf
	install -m 0644 systemd/loopd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/loopd.conf
	install -m 0644 man/loopctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/loopd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 completion/loopctl.bash \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/loopctl

# make uninstall [PREFIX=] [DESTDIR=]: what install put there; the config
# only if it is still the one shipped (a changed one is yours).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/loopd $(DESTDIR)$(PREFIX)/bin/loopctl \
	  $(DESTDIR)$(PREFIX)/libexec/loopd/loopd-reload \
	  $(DESTDIR)$(SYSTEMD_UNITDIR)/loopd.service \
	  $(DESTDIR)$(SYSTEMD_UNITDIR)/loopd.socket \
	  $(addprefix $(DESTDIR)$(SYSTEMD_USERUNITDIR)/,$(notdir $(USER_UNITS))) \
	  $(DESTDIR)$(SYSUSERSDIR)/loopd.conf $(DESTDIR)$(TMPFILESDIR)/loopd.conf \
	  $(DESTDIR)$(PREFIX)/share/man/man1/loopctl.1 \
	  $(DESTDIR)$(PREFIX)/share/man/man8/loopd.8 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/loopctl
	rmdir $(DESTDIR)$(PREFIX)/libexec/loopd 2>/dev/null || true
	if cmp -s etc/loopd.conf $(DESTDIR)$(SYSCONFDIR)/loopd/loopd.conf; then \
	  rm -f $(DESTDIR)$(SYSCONFDIR)/loopd/loopd.conf; \
	  rmdir $(DESTDIR)$(SYSCONFDIR)/loopd 2>/dev/null || true; fi

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
