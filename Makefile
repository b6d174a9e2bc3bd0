# The two commands a user needs: `make demo` and `make test`. Both install what is
# missing (scripts/setup, once per change of that script) and build first.
BUILD   ?= build
JOBS    ?= $(shell nproc)
# Warnings are errors in CI (CI=true) and wherever WERROR=ON is given.
WERROR  ?= $(if $(CI),ON,OFF)
SENTIFLOW := $(BUILD)/sentiflow

.PHONY: all setup build demo test bench docs clean

all: build

$(BUILD)/.setup-done: scripts/setup
	bash scripts/setup
	@mkdir -p $(BUILD) && touch $@

setup: $(BUILD)/.setup-done

$(BUILD)/build.ninja: CMakeLists.txt | $(BUILD)/.setup-done
	cmake -S . -B $(BUILD) -G Ninja -DSENTIFLOW_WERROR=$(WERROR)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Until the main job lands: validate the demo pipeline and show when it would run.
demo: build
	$(SENTIFLOW) validate examples/demo.yaml
	@echo "Next fire times of the demo schedule:"
	@$(SENTIFLOW) schedule "$$($(SENTIFLOW) validate --json examples/demo.yaml | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["schedule"])')" --count 5

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

bench: build
	$(BUILD)/bench/sentiflow_bench

# Regenerates the key reference in docs/PIPELINE.md from the key table.
docs: build
	python3 scripts/update_pipeline_doc.py $(SENTIFLOW) docs/PIPELINE.md

clean:
	rm -rf $(BUILD)
