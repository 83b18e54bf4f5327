# The front door. `make run` runs prefcpud on this machine; `make test` builds with sanitizers and
# runs every test. Each target installs the Debian packages it needs first.

BUILD_PACKAGES := cmake g++ make pkg-config libfmt-dev nlohmann-json3-dev libcli11-dev \
                  libtomlplusplus-dev libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev \
                  prometheus-cpp-dev
RUN_PACKAGES   := $(BUILD_PACKAGES) util-linux
TEST_PACKAGES  := $(BUILD_PACKAGES) util-linux procps irqbalance gnuplot-nox curl \
                  qemu-system-x86 busybox-static cpio kmod zstd
LINT_PACKAGES  := $(BUILD_PACKAGES) clang-format clang-tidy

JOBS      ?= $(shell nproc)
BUILD     := build
ASAN      := build-asan
ENSURE    := scripts/ensure-packages.sh

.PHONY: all build run test vmtest lint format bench install clean deps-build deps-test deps-run deps-lint

all: build

deps-build: ; @$(ENSURE) $(BUILD_PACKAGES)
deps-run:   ; @$(ENSURE) $(RUN_PACKAGES)
deps-test:  ; @$(ENSURE) $(TEST_PACKAGES)
deps-lint:  ; @$(ENSURE) $(LINT_PACKAGES)

# Release build; binaries land in build/bin.
build: deps-build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DPREFCPU_BUILD_TESTS=OFF
	cmake --build $(BUILD) -j $(JOBS)

# The main job: prefcpud in the foreground on this machine (see README "make run").
run: deps-run build
	scripts/run-prefcpud.sh $(BUILD)/bin

# ASan+UBSan build, then every test through ctest (unit, root integration, QEMU guests).
test: deps-test
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFCPU_SANITIZE=ON -DPREFCPU_BUILD_BENCH=OFF
	cmake --build $(ASAN) -j $(JOBS)
	ctest --test-dir $(ASAN) --output-on-failure -j $(JOBS) --timeout 600

vmtest: deps-test build
	tests/vm/run-all.sh $(BUILD)/bin

# clang-format must leave the tree unchanged and clang-tidy must be silent.
lint: deps-lint
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFCPU_SANITIZE=ON -DPREFCPU_BUILD_BENCH=OFF
	JOBS=$(JOBS) scripts/lint.sh $(ASAN)

format: deps-lint
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

bench: build
	scripts/run-benchmarks.sh $(BUILD)/bin

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN)
