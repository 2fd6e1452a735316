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
DAEMON_SRC := $(wildcard daemon/*.c daemon/util/*.c daemon/exec/*.c daemon/action/*.c daemon/http/*.c daemon/store/*.c)
CLIENT_SRC := $(wildcard client/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

PROTO_OBJ  := $(call obj,$(PROTO_SRC))
CORE_OBJ   := $(call obj,$(CORE_SRC))
RECUR_OBJ  := $(call obj,$(RECUR_SRC))
DAEMON_OBJ := $(call obj,$(DAEMON_SRC))
CLIENT_OBJ := $(call obj,$(CLIENT_SRC))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

# The layers, as scripts/check-layers names them (keep the two in step):
# each is a static archive, build/lib/lib<layer>.a, of its sources; each
# may use the layers in uses.<layer> and the packages in pkgs.<layer>.
# A unit test links the layers of the headers it includes and what those
# use, nothing else: a core test that needs the store or the HTTP server
# does not link. `make layers` also links each layer whole against what it
# may use, so a call from a layer into one above it fails the build.
# New folders are picked up by their wildcard.
.DEFAULT_GOAL := all
LAYERS := http action store support exec core leaf client base util recur proto
src.proto   := $(wildcard proto/*.c)
src.recur   := $(wildcard recur/*.c)
src.util    := $(wildcard daemon/util/*.c)
src.base    := daemon/log.c
src.leaf    := daemon/core/clock.c daemon/core/idmap.c
src.core    := $(filter-out $(src.leaf),$(wildcard daemon/core/*.c))
src.exec    := $(wildcard daemon/exec/*.c)
src.support := $(filter-out daemon/main.c $(src.base),$(wildcard daemon/*.c))
src.action  := $(wildcard daemon/action/*.c)
src.store   := $(wildcard daemon/store/*.c)
src.http    := $(wildcard daemon/http/*.c)
src.client  := $(wildcard client/*.c)
uses.proto   :=
uses.recur   :=
uses.util    :=
uses.base    := util
uses.leaf    := util base
uses.core    := util base leaf recur
uses.exec    := util base leaf proto
uses.support := util base leaf proto recur core exec
uses.action  := util base leaf proto recur core exec support
uses.store   := util base leaf proto recur core support
uses.http    := util base leaf proto recur core exec support action store
uses.client  := util proto recur
pkgs.proto   := jansson libcurl
pkgs.base    := libsystemd
pkgs.core    := libevent
pkgs.exec    := libevent libcurl gnutls
pkgs.support := libevent jansson
pkgs.action  := libevent libcurl gnutls jansson
pkgs.store   := libevent sqlite3
pkgs.http    := libevent libmicrohttpd gnutls jansson
pkgs.client  := jansson libcurl

# The archive of a layer, none for a layer with no sources (yet). Its
# .list names its sources, so a file moved or removed remakes it.
lib = $(if $(src.$(1)),$(BUILD)/lib/lib$(1).a)
define layer_lib
$(call lib,$(1)): $(call obj,$(src.$(1))) $(BUILD)/lib/lib$(1).list
$(BUILD)/lib/lib$(1).list: FORCE
	@mkdir -p $$(dir $$@)
	@echo '$(src.$(1))' | cmp -s - $$@ || echo '$(src.$(1))' > $$@
endef
$(foreach l,$(LAYERS),$(if $(src.$(l)),$(eval $(call layer_lib,$(l)))))
$(BUILD)/lib/%.a:
	@rm -f $@
	$(AR) rcs $@ $(filter %.o,$^)
.PHONY: FORCE

# The layer of a project header: the first pattern it matches.
layer_pats := proto/%:proto recur/%:recur daemon/util/%:util daemon/log.h:base \
  daemon/core/clock.h:leaf daemon/core/idmap.h:leaf daemon/core/%:core \
  daemon/exec/%:exec daemon/action/%:action daemon/store/%:store daemon/http/%:http \
  client/%:client daemon/%:support
layer_of = $(word 2,$(subst :, ,$(firstword $(foreach p,$(layer_pats),$(if $(filter \
  $(firstword $(subst :, ,$(p))),$(1)),$(p))))))
# A layer and the layers it uses, in link order (users first).
closure = $(filter $(sort $(foreach l,$(1),$(l) $(uses.$(l)))),$(LAYERS))
layer_libs = $(foreach l,$(1),$(call lib,$(l))) \
  $(if $(strip $(foreach l,$(1),$(pkgs.$(l)))),$(shell pkg-config --libs $(sort \
  $(foreach l,$(1),$(pkgs.$(l)))))) -lm -pthread
# The layers a test's includes name, with what they use.
test_layers = $(call closure,$(foreach h,$(shell sed -n \
  's/^[[:space:]]*\#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' $(1)),$(call layer_of,$(h))))

.PHONY: all check unit golden integration clean deps test-deps install uninstall \
	bench valgrind
# A SANITIZE= build lives in build/san, apart from the plain one.
all: $(BUILD)/loopd $(BUILD)/loopctl

$(BUILD)/loopd: $(PROTO_OBJ) $(RECUR_OBJ) $(CORE_OBJ) $(DAEMON_OBJ)
	$(CC) $(LDFLAGS) $(LOOPD_LDFLAGS) -o $@ $^ $(LOOPD_LIBS)

# loopctl: the whole client layer and what it uses (no daemon library).
$(BUILD)/loopctl: $(foreach l,$(call closure,client),$(call lib,$(l)))
	$(CC) $(LDFLAGS) $(LOOPD_LDFLAGS) -o $@ -Wl,--whole-archive $(call lib,client) \
	  -Wl,--no-whole-archive $(call layer_libs,$(call closure,client))

# Each unit test links its layers' archives only (see LAYERS above).
define unit_test
$(BUILD)/tests/$(1): tests/unit/$(1).c $(foreach l,$(call test_layers,tests/unit/$(1).c),$(call lib,$(l)))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LOOPD_CFLAGS) $$(CFLAGS) $$(LDFLAGS) $$(LOOPD_LDFLAGS) -o $$@ $$< \
	  $$(call layer_libs,$(call test_layers,tests/unit/$(1).c))
endef
$(foreach t,$(UNIT_SRC),$(eval $(call unit_test,$(basename $(notdir $(t))))))

# Each daemon layer linked whole against the layers and packages it may
# use, with an empty main (loopctl is the client's): a symbol it needs from
# a layer above it is undefined. known.<layer> would name a layer above
# that it still links against, as scripts/check-layers' KNOWN list says why
# (none today).
define layer_link
$(BUILD)/layers/$(1): $(BUILD)/layers/stub.o $(foreach l,$(call closure,$(1) $(known.$(1))),$(call lib,$(l)))
	$$(CC) $$(LDFLAGS) $$(LOOPD_LDFLAGS) -o $$@ $$< -Wl,--whole-archive $(call lib,$(1)) \
	  -Wl,--no-whole-archive $$(call layer_libs,$(call closure,$(1) $(known.$(1))))
endef
LAYER_LINKS := $(foreach l,$(filter-out client,$(LAYERS)),$(if $(src.$(l)),$(BUILD)/layers/$(l)))
$(foreach l,$(LAYER_LINKS),$(eval $(call layer_link,$(notdir $(l)))))
$(BUILD)/layers/stub.o:
	@mkdir -p $(dir $@)
	printf 'int main(void);\nint main(void) { return 0; }\n' | \
	  $(CC) $(LOOPD_CFLAGS) $(CFLAGS) -x c -c -o $@ -

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

# make check: the layer check and the unit tests, then the integration
# tests side by side with the fuzz smoke run (niced: it runs for a fixed
# time, the others wait on the clock) and the browser tests, whose output
# is kept in build/check/ and shown when they end. Everything is built
# first, so the parts only run. CHECK_PARALLEL=0 runs the parts one after
# the other.
CHECK_PARALLEL ?= 1
CHECK_LOGS     := $(BUILD)/check
check: layers unit all $(FUZZ_BUILD)/fuzz_api | $(TEST_DEPS)
ifeq ($(CHECK_PARALLEL),0)
	@$(MAKE) --no-print-directory integration fuzz-smoke browser
else
	@mkdir -p $(CHECK_LOGS)
	@nice -n 10 $(MAKE) --no-print-directory fuzz-smoke > $(CHECK_LOGS)/fuzz.log 2>&1 & f=$$!; \
	  $(MAKE) --no-print-directory browser > $(CHECK_LOGS)/browser.log 2>&1 & b=$$!; \
	  $(MAKE) --no-print-directory integration; i=$$?; \
	  wait $$f; fr=$$?; wait $$b; br=$$?; \
	  echo "--- make fuzz-smoke ($(CHECK_LOGS)/fuzz.log)"; cat $(CHECK_LOGS)/fuzz.log; \
	  echo "--- make browser ($(CHECK_LOGS)/browser.log)"; cat $(CHECK_LOGS)/browser.log; \
	  [ $$i -eq 0 ] && [ $$fr -eq 0 ] && [ $$br -eq 0 ]
endif

# The web console in headless Chromium (tests/browser/): run when Chromium
# is installed (make test-deps installs Debian's chromium), skipped - and
# said so - when it is not. Screenshots go to build/screenshots/.
.PHONY: browser
browser: all | $(TEST_DEPS)
	$(TEST_PATH) LOOPD=$(abspath $(BUILD)/loopd) LOOPCTL=$(abspath $(BUILD)/loopctl) \
	  $(PYTHON) tests/browser/test_console.py

# No file includes a header of a layer above its own (scripts/check-layers).
.PHONY: layers
# And no layer links against one above it (LAYERS, the links above).
layers: $(LAYER_LINKS) $(BUILD)/loopctl
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

-include $(shell find $(BUILD)/obj $(BUILD)/tests $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
