# kvsim - build, test, check, bench, figures, install.
#
#   make              build bin/kvsim (installs missing Debian packages first)
#   make run          run the main job on the bundled default trace
#   make test         build and run every test suite (CUnit)
#   make check        the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make valgrind     the unit tests under valgrind memcheck
#   make fuzz         build the libFuzzer targets (tests/fuzz/fuzz_*.c) and run each for
#                     FUZZ_SECONDS (default 60) on its corpus (docs/robustness.md)
#   make bench        benchmarks (parse MB/s, block accesses/s, peak RSS)
#   make samples      regenerate the bundled traces/sample/ from traces/profiles/
#   make figures      paper figures (PNG + SVG) of TRACE=... (scripts/figures/figures.mk)
#   make install PREFIX=/usr/local
#
# OPT=-O2 by default; V=1 shows the commands.

VERSION   := 0.1.0
OPT       ?= -O2
CC        ?= cc
PREFIX    ?= /usr/local
BUILD     ?= build/release
SANFLAGS  :=
V         ?= 0

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRC_DIRS  := sim policies analysis
SRCS      := $(shell find $(SRC_DIRS) -name '*.c' | LC_ALL=C sort)
LIB_SRCS  := $(filter-out sim/main.c,$(SRCS))
INC_DIRS  := $(sort $(dir $(SRCS)))
TEST_SRCS := $(shell find tests -maxdepth 1 -name '*.c' | LC_ALL=C sort)

CFLAGS    ?=
CFLAGS    += -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation \
             -pthread -MMD -MP -DKVSIM_VERSION='"$(VERSION)"' $(addprefix -I,$(INC_DIRS)) \
             $(SANFLAGS)
LDLIBS    := -lz -ljansson -lcurl -levent -lm -pthread
LDFLAGS   += $(SANFLAGS)

OBJS      := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
MAIN_OBJ  := $(BUILD)/sim/main.o
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRCS))
BIN       := bin/kvsim
TEST_BIN  := $(BUILD)/tests/kvsim-tests
DEPS_OK   := build/.deps-ok

# Tests that need the real traces read them from KVSIM_TRACES (CI sets it); default to the
# shared folder beside the project when it exists.
KVSIM_TRACES ?= $(wildcard $(abspath ../shared/traces))
export KVSIM_TRACES

.PHONY: all run test check valgrind bench samples figures install clean deps fuzz fuzz-build

all: $(BIN)

$(DEPS_OK): scripts/install-deps.sh
	$(Q)scripts/install-deps.sh --check || scripts/install-deps.sh
	$(Q)mkdir -p $(@D) && touch $@

deps: $(DEPS_OK)

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BIN): $(OBJS) $(MAIN_OBJ)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(TEST_BIN): $(OBJS) $(TEST_OBJS)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit

run: $(BIN)
	$(BIN) --policy lru --capacity 1%,5%,10%,25%,50%,64GiB,inf

test: $(BIN) $(TEST_BIN)
	$(Q)KVSIM_BIN=$(abspath $(BIN)) $(TEST_BIN)

check:
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
		SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		BIN=build/asan/bin/kvsim test

VALGRIND  := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite

# The unit tests in-process, then bin/kvsim itself on every committed bad input (tests/bad),
# strict and --lenient: any invalid access or definite leak exits 99 and fails.
valgrind: $(BIN) $(TEST_BIN)
	$(Q)KVSIM_BIN=$(abspath $(BIN)) KVSIM_UNIT_ONLY=1 $(VALGRIND) $(TEST_BIN)
	$(Q)for f in tests/bad/*.jsonl tests/fixtures/design-example.jsonl; do \
		for l in "" --lenient; do \
			$(VALGRIND) $(BIN) -c 4,inf -f csv $$l $$f >/dev/null 2>build/valgrind.log; \
			if [ $$? = 99 ]; then echo "valgrind: $(BIN) $$l $$f"; cat build/valgrind.log; exit 1; fi; \
		done; \
	done; echo "valgrind: bin/kvsim clean on tests/bad/*.jsonl (strict and --lenient)"

# --- fuzzing (docs/robustness.md) -------------------------------------------------------
# Every tests/fuzz/fuzz_NAME.c is a libFuzzer target: it is linked with the library objects
# built by clang with ASan+UBSan and coverage, and run on tests/fuzz/corpus/NAME/ (seeds,
# checked in, read-only) plus build/fuzz/work/NAME/ (what the run discovers). A target with a
# tests/fuzz/NAME.dict gets it as -dict. A crash is written to tests/fuzz/crash-NAME-*: add
# it to corpus/NAME/ with the fix. The .kvt loader is covered through fuzz_trace_load;
# fuzz_sse is replay's stream parser, fuzz_stream_event its reading of one event,
# fuzz_serve_request serve's request parser. Adding a
# target: one tests/fuzz/fuzz_NAME.c and a seed folder, nothing else.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -O1 -g -Wall -Wextra -Wno-unknown-warning-option \
                -Wno-missing-field-initializers -pthread -DKVSIM_VERSION='"$(VERSION)"' \
                $(addprefix -I,$(INC_DIRS)) $(FUZZ_SAN)
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_BINS    := $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_NAMES))
FUZZ_LIB     := $(FUZZ_BUILD)/libkvsim.a
FUZZ_OBJS    := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(LIB_SRCS))

$(FUZZ_BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# FUZZ_RUNS=N instead runs a fixed number of inputs per target (tests/fuzz/NAME.runs
# overrides N for a slow target) from a fixed seed: a reproducible run, as CI uses, that
# gives the same verdict on every machine of the same kind.
fuzz: fuzz-build
	$(Q)set -e; for t in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_BUILD)/work/$$t tests/fuzz/corpus/$$t; \
		dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
		if [ -n "$(FUZZ_RUNS)" ]; then \
			runs=$$(cat tests/fuzz/$$t.runs 2>/dev/null || echo $(FUZZ_RUNS)); \
			limit="-runs=$$runs -seed=1"; echo "  FUZZ    $$t for $$runs runs (seed 1)"; \
			rm -rf $(FUZZ_BUILD)/work/$$t; mkdir -p $(FUZZ_BUILD)/work/$$t; \
		else \
			limit=-max_total_time=$(FUZZ_SECONDS); echo "  FUZZ    $$t for $(FUZZ_SECONDS) s"; \
		fi; \
		$(FUZZ_BUILD)/fuzz_$$t $$limit -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=tests/fuzz/crash-$$t- $$dict \
			$(FUZZ_BUILD)/work/$$t tests/fuzz/corpus/$$t 2> $(FUZZ_BUILD)/$$t.log \
			|| { tail -40 $(FUZZ_BUILD)/$$t.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' $(FUZZ_BUILD)/$$t.log | \
			sed 's/^/          /'; \
	done

bench: $(BIN)
	$(Q)scripts/bench/bench-core.sh $(BIN)

# The bundled default traces (traces/sample/), regenerated bit-for-bit from the profiles.
samples: $(BIN)
	@mkdir -p traces/sample
	$(BIN) gen --profile to-c --duration 600 --seed 1 -o traces/sample/to-c-10min.jsonl.gz
	$(BIN) gen --profile to-b --duration 600 --rate-scale 0.25 --seed 1 -o traces/sample/to-b-10min.jsonl.gz

figures: $(BIN)
	$(Q)$(MAKE) --no-print-directory -f scripts/figures/figures.mk KVSIM=$(BIN) figures

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/kvsim/traces/sample $(DESTDIR)$(PREFIX)/share/kvsim/traces/profiles \
		$(DESTDIR)$(PREFIX)/share/kvsim/scripts
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/kvsim
	install -m 644 doc/kvsim.1 $(DESTDIR)$(PREFIX)/share/man/man1/kvsim.1
	cp -r traces/sample/. $(DESTDIR)$(PREFIX)/share/kvsim/traces/sample/
	cp -r traces/profiles/. $(DESTDIR)$(PREFIX)/share/kvsim/traces/profiles/
	cp -r scripts/figures $(DESTDIR)$(PREFIX)/share/kvsim/scripts/ 2>/dev/null || true

clean:
	rm -rf build/release build/asan build/fuzz bin

-include $(OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d)
