# figures.mk - `make figures [TRACE=...]`: the paper figures of one trace, as PNG and SVG.
#
# Called by the top-level Makefile (`make figures`), or directly:
#   make -f scripts/figures/figures.mk KVSIM=bin/kvsim TRACE=trace.jsonl.gz figures
#
# Each figure is a make target that depends on the CSV it is drawn from (and on its gnuplot
# script), so it is redrawn only when that CSV changed. Missing CSVs are produced by
# running kvsim (`analyze`, a `sim` sweep, `mrc`); a figure whose input cannot be produced
# (no timed run yet, a trace without sessions) is skipped with a note on stderr.
#
# Variables (all overridable):
#   TRACE       the trace (default: the bundled sample, else the Mooncake conversation trace
#               under $KVSIM_TRACES)
#   FIG_DIR     output folder (default results/figures/<trace name>)
#   AN_DIR      `kvsim analyze` output (default results/analyze/<trace name>)
#   SWEEP_CSV   `kvsim sim --format csv` sweep (default results/sweep/<trace name>/results.csv)
#   POLICIES, CAPACITIES, JOBS   the sweep made when SWEEP_CSV is missing
#   MRC_CSV     `kvsim mrc --format csv` curve (default results/mrc/<trace name>.csv)
#   TIMED_CSVS  per-request CSVs of timed runs (`kvsim sim --requests FILE.csv`), one series
#               per router (default results/timed/*.csv results/timed/*/requests.csv)

KVSIM      ?= bin/kvsim
FIG        := scripts/figures/fig.sh
GP_DIR     := scripts/figures

TRACE      ?= $(firstword $(wildcard traces/sample/to-c-10min.jsonl.gz) \
                $(wildcard $(KVSIM_TRACES)/mooncake_fast25_conversation_trace.jsonl.gz))
NAME       := $(patsubst %.kvt,%,$(patsubst %.json,%,$(patsubst %.jsonl,%,$(patsubst %.gz,%,$(notdir $(TRACE))))))
NAME       := $(or $(NAME),none)

FIG_DIR    ?= results/figures/$(NAME)
AN_DIR     ?= results/analyze/$(NAME)
SWEEP_CSV  ?= results/sweep/$(NAME)/results.csv
MRC_CSV    ?= results/mrc/$(NAME).csv
TIMED_CSVS ?= $(sort $(wildcard results/timed/*.csv results/timed/*/requests.csv))
CAPACITIES ?= 0.5%,1%,2%,5%,10%,15%,20%,30%,40%,50%,75%,inf
JOBS       ?= 2
# every registered eviction policy (Belady included once it is registered), from the help
POLICIES   ?= $(or $(shell $(KVSIM) sim --help 2>/dev/null | awk '/known:/ { k = 1; next } \
                k && substr($$0, 1, 28) == "                            " { print $$1; next } \
                k { exit }' | paste -sd, -),lru)
HAVE_MRC    = $(shell $(KVSIM) --help 2>/dev/null | grep -q '^  mrc ' && echo yes)
MRC_DEP    := $(if $(or $(wildcard $(MRC_CSV)),$(TRACE)),$(MRC_CSV))

AN_CSVS    := $(addprefix $(AN_DIR)/,reuse_time_cdf.csv stack_distance_cdf.csv \
                sessions_turns.csv sessions_gap_cdf.csv workload_arrivals.csv \
                workload_lengths_cdf.csv)

FIGURES    := hit_ratio reuse_time stack_distance turns gap arrivals lengths ttft load_share

.PHONY: figures gnuplot-check
.DELETE_ON_ERROR:

figures: $(foreach f,$(FIGURES),$(FIG_DIR)/$(f).png)

gnuplot-check:
	@command -v gnuplot >/dev/null 2>&1 || { echo "make figures: gnuplot is not installed;" \
		"install the Debian package gnuplot-nox (scripts/install-deps.sh, or" \
		"apt-get install gnuplot-nox)" >&2; exit 1; }

# ---- input CSVs ----
ifneq ($(TRACE),)
$(AN_CSVS) &: $(TRACE)
	@echo "  ANALYZE $(TRACE) -> $(AN_DIR)" >&2
	@$(KVSIM) analyze --out $(AN_DIR) $(TRACE) >/dev/null

$(SWEEP_CSV): $(TRACE)
	@echo "  SWEEP   $(POLICIES) x $(CAPACITIES) -> $@" >&2
	@$(KVSIM) sim --policy $(POLICIES) --capacity $(CAPACITIES) -j $(JOBS) \
		--out $(dir $@) --format csv $(TRACE) >/dev/null
	@[ "$(notdir $@)" = results.csv ] || mv -f $(dir $@)results.csv $@

# `kvsim mrc` when it exists; else the same exact LRU curve from the LRU columns of
# analyze's stack_distance_cdf.csv (see docs/analysis.md)
$(MRC_CSV): $(TRACE) $(if $(HAVE_MRC),,$(AN_DIR)/stack_distance_cdf.csv)
	@echo "  MRC     $(TRACE) -> $@" >&2
	@mkdir -p $(dir $@)
	@$(if $(HAVE_MRC),$(KVSIM) mrc --format csv $(MRC_OPTS) $(TRACE), \
		echo "figures: no kvsim mrc; the LRU curve comes from $(AN_DIR)/stack_distance_cdf.csv" >&2; \
		awk -F, 'NR == 1 { print "capacity_blocks,block_hit_ratio,token_hit_ratio"; next } \
			{ print $$2 "," $$4 "," $$5 }' $(AN_DIR)/stack_distance_cdf.csv) >$@.tmp && mv -f $@.tmp $@
else
$(AN_CSVS) $(SWEEP_CSV):
	@echo "figures: $@ is missing and no TRACE was given to make it from" >&2
endif

# ---- figures: $(call figure,NAME,INPUTS) ----
define figure
$(FIG_DIR)/$(1).png $(FIG_DIR)/$(1).svg &: $(2) $(GP_DIR)/$(1).gp $(GP_DIR)/common.gp $(FIG) | gnuplot-check
	@$(FIG) $(1) $(FIG_DIR)/$(1) $(2)
endef

$(eval $(call figure,hit_ratio,$(SWEEP_CSV) $(MRC_DEP)))
$(eval $(call figure,reuse_time,$(AN_DIR)/reuse_time_cdf.csv))
$(eval $(call figure,stack_distance,$(AN_DIR)/stack_distance_cdf.csv))
$(eval $(call figure,turns,$(AN_DIR)/sessions_turns.csv))
$(eval $(call figure,gap,$(AN_DIR)/sessions_gap_cdf.csv))
$(eval $(call figure,arrivals,$(AN_DIR)/workload_arrivals.csv))
$(eval $(call figure,lengths,$(AN_DIR)/workload_lengths_cdf.csv))
$(eval $(call figure,ttft,$(TIMED_CSVS)))
$(eval $(call figure,load_share,$(TIMED_CSVS)))
