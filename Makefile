# The two commands a user needs: `make demo` and `make test`. Both install what is
# missing (scripts/setup, once per change of that script) and build first.
BUILD   ?= build
JOBS    ?= $(shell nproc)
# Warnings are errors in CI (CI=true) and wherever WERROR=ON is given.
WERROR  ?= $(if $(CI),ON,OFF)
# CI compiles the test programs without debug information (half their compile time).
TEST_DEBUG_INFO ?= $(if $(CI),OFF,ON)
SENTIFLOW := $(BUILD)/sentiflow

.PHONY: all setup build demo test bench bench-pipeline docs format clean fuzz soak

all: build

$(BUILD)/.setup-done: scripts/setup
	bash scripts/setup
	@mkdir -p $(BUILD) && touch $@

setup: $(BUILD)/.setup-done

$(BUILD)/build.ninja: CMakeLists.txt | $(BUILD)/.setup-done
	cmake -S . -B $(BUILD) -G Ninja -DSENTIFLOW_WERROR=$(WERROR) -DSENTIFLOW_TEST_DEBUG_INFO=$(TEST_DEBUG_INFO)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The demo: one run of examples/demo.yaml over VADER's four human-rated corpora (its summary on
# stdout), then the agreement of its stored results with the human ratings, per corpus, beside
# the VADER paper. State and results go to examples/.sentiflow and examples/out (SENTIFLOW_OUT
# moves the results); a second `make demo` runs again and evaluates the newest run.
demo: build
	$(SENTIFLOW) run examples/demo.yaml --once
	$(SENTIFLOW) eval --pipeline examples/demo.yaml

# tests/peers/venv/bin first on the PATH: the moto_server scripts/setup installs where none was.
PEERS_PATH := $(CURDIR)/tests/peers/venv/bin:$(PATH)

test: build
	cd $(BUILD) && PATH="$(PEERS_PATH)" ctest --output-on-failure -j $(JOBS) --timeout 300

# `make fuzz`: the fuzz targets (docs/FUZZING.md) built by clang with libFuzzer, ASan and UBSan in
# FUZZ_BUILD, then each run for FUZZ_SECONDS, FUZZ_JOBS at a time (scripts/fuzz.py; a finding
# fails it). `make test` runs the same targets briefly through their replay driver instead.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_JOBS    ?= $(JOBS)
FUZZ_ARGS    ?=
fuzz: $(BUILD)/.setup-done
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DSENTIFLOW_FUZZ=ON -DSENTIFLOW_TESTS=OFF \
	  -DSENTIFLOW_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	python3 scripts/fuzz.py --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS) $(FUZZ_ARGS)

# `make soak`: the soak test alone, longer than `make test` runs it (tests/local/soak_test.cc: the
# daemon in two processes killed at random over SOAK_TICKS simulated minutes; about 0.1 s a tick).
SOAK_TICKS ?= 3000
soak: build
	SENTIFLOW_SOAK_TICKS=$(SOAK_TICKS) $(BUILD)/tests/local_test --gtest_filter='Soak.*'

# `make bench`: the Google Benchmark binary (every bench/*_bench.cc), then the whole pipeline end
# to end (bench/pipeline.py: 1,000,000 items through `sentiflow run --once`; about a minute on
# 2 cores). `make bench-pipeline` runs only the latter; BENCH_ARGS=--quick makes it a 50,000-item
# smoke run, and any other option of bench/pipeline.py goes there too (docs/PERFORMANCE.md).
BENCH_ARGS ?=
bench: build
	$(BUILD)/bench/sentiflow_bench
	python3 bench/pipeline.py --sentiflow $(SENTIFLOW) $(BENCH_ARGS)

bench-pipeline: build
	python3 bench/pipeline.py --sentiflow $(SENTIFLOW) $(BENCH_ARGS)

# `make bench-aws`: the AWS backends against a moto_server it starts (bench/aws.py: items/s of
# `run --once` on dynamodb:// sqs:// s3:// and per-call latency; BENCH_ARGS=--quick: about 20 s).
.PHONY: bench-aws
bench-aws: build
	PATH="$(PEERS_PATH)" python3 bench/aws.py --sentiflow $(SENTIFLOW) $(BENCH_ARGS)

# `make model`: retrains the built-in fastText model, data/fasttext/sst2.ftz, from SST-2's training
# split in ../shared (which users do not have: the model is shipped, never the data), and
# measures it on the held-out sentences (data/fasttext/MODEL_CARD.md).
SST2 ?= ../shared/data/sst2/train.tsv
.PHONY: model
model: build
	python3 scripts/sst2_split.py $(SST2) $(BUILD)/sst2
	$(SENTIFLOW) train --engine fasttext --data $(BUILD)/sst2/train.tsv --validation $(BUILD)/sst2/dev.tsv \
	  --out data/fasttext/sst2.ftz --quantize
	$(SENTIFLOW) eval --engine fasttext --labelled $(BUILD)/sst2/test.tsv

# Regenerates the key reference in docs/PIPELINE.md from the key table.
docs: build
	python3 scripts/update_pipeline_doc.py $(SENTIFLOW) docs/PIPELINE.md

# Formats every C++ file of the tree with .clang-format (Debian package clang-format).
format:
	@command -v clang-format >/dev/null || { echo "make format needs clang-format (apt-get install clang-format)"; exit 2; }
	git ls-files '*.h' '*.cc' | grep -v '^tests/peers/' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
