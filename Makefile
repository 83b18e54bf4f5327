# The front door. `make run` runs prefcpud on this machine; `make test` builds with sanitizers and
# runs every test. Each target installs the Debian packages it needs first.

BUILD_PACKAGES := cmake g++ make pkg-config libfmt-dev nlohmann-json3-dev libcli11-dev \
                  libtomlplusplus-dev libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev \
                  prometheus-cpp-dev
RUN_PACKAGES   := $(BUILD_PACKAGES) util-linux
# make deb: dpkg-buildpackage, debhelper and lintian (TEST_PACKAGES uses it, so it comes first).
DEB_PACKAGES   := $(BUILD_PACKAGES) debhelper dpkg-dev lintian cpio
TEST_PACKAGES  := $(BUILD_PACKAGES) util-linux procps irqbalance gnuplot-nox curl \
                  qemu-system-x86 busybox-static cpio kmod zstd rt-tests python3 linux-perf \
                  mmdebstrap $(filter-out $(BUILD_PACKAGES),$(DEB_PACKAGES))
LINT_PACKAGES  := $(BUILD_PACKAGES) clang-format clang-tidy
# The overcommit rig (bench/overcommit): the VM rig plus the guests' workloads.
RIG_PACKAGES   := $(TEST_PACKAGES) sysbench sqlite3
FUZZ_PACKAGES  := $(BUILD_PACKAGES) clang-14 libclang-rt-14-dev

JOBS      ?= $(shell nproc)
BUILD     := build
ASAN      := build-asan
DEB       := build-deb
FUZZ      := build-fuzz
FUZZ_SECONDS ?= 10
ENSURE    := scripts/ensure-packages.sh

.PHONY: all build run test vmtest lint format bench install deb clean fuzz mutants deps-build deps-test \
        deps-run deps-lint deps-rig deps-fuzz deps-deb overcommit validate-sim tcg-cost tcg-profile

all: build

deps-build: ; @$(ENSURE) $(BUILD_PACKAGES)
deps-run:   ; @$(ENSURE) $(RUN_PACKAGES)
deps-test:  ; @$(ENSURE) $(TEST_PACKAGES)
deps-lint:  ; @$(ENSURE) $(LINT_PACKAGES)
deps-rig:   ; @$(ENSURE) $(RIG_PACKAGES)
deps-fuzz:  ; @$(ENSURE) $(FUZZ_PACKAGES)
deps-deb:   ; @$(ENSURE) $(DEB_PACKAGES)

# Release build; binaries land in build/bin.
build: deps-build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DPREFCPU_BUILD_TESTS=OFF
	cmake --build $(BUILD) -j $(JOBS)

# The main job: prefcpud in the foreground on this machine (see README "make run").
run: deps-run build
	scripts/run-prefcpud.sh $(BUILD)/bin

# ASan+UBSan build, then every test through ctest (unit, root integration, QEMU guests) but the
# systemd guest, which builds a Debian rootfs and the package first (`make vmtest` runs it).
test: deps-test
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFCPU_SANITIZE=ON -DPREFCPU_BUILD_BENCH=OFF
	cmake --build $(ASAN) -j $(JOBS)
	ctest --test-dir $(ASAN) --output-on-failure -j $(JOBS) --timeout 600 -LE systemd-guest

# The systemd guest installs the package: build it first.
vmtest: deps-test build deb
	tests/vm/run-all.sh $(BUILD)/bin --deb-dir $(DEB)

# The overcommit rig's default run (docs/overcommit.md): 2 guests x 4 vCPUs on 2 host CPUs,
# hackbench, none vs kernel, 5 runs each. OVERCOMMIT_ARGS adds or overrides options.
overcommit: deps-rig build
	bench/overcommit/run.sh --bin-dir $(BUILD)/bin $(OVERCOMMIT_ARGS)

# The tcg profile's costs measured in a guest, and where an overcommitted TCG guest's time goes
# (docs/simulator.md, "The tcg profile, measured"); run alone, a few minutes each.
tcg-cost: deps-rig build
	bench/overcommit/tcg-cost.sh --bin-dir $(BUILD)/bin --reps 9 --scale 20
tcg-profile: deps-rig build
	bench/overcommit/tcg-profile.sh --bin-dir $(BUILD)/bin --host-cpus 0-1 --vcpus 8 --confined 0-1 --runs 5

# clang-format must leave the tree unchanged and clang-tidy must be silent.
lint: deps-lint
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFCPU_SANITIZE=ON -DPREFCPU_BUILD_BENCH=OFF
	JOBS=$(JOBS) scripts/lint.sh $(ASAN)

# Breaks rules on purpose (scripts/mutants.py) and fails if any breakage survives the tests.
mutants: deps-test
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFCPU_SANITIZE=ON -DPREFCPU_BUILD_BENCH=OFF
	scripts/mutants.py $(ASAN)

# libFuzzer targets of every parser (clang, ASan+UBSan), each run FUZZ_SECONDS from fuzz/corpus.
fuzz: deps-fuzz
	cmake -S . -B $(FUZZ) -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFCPU_FUZZ=ON
	cmake --build $(FUZZ) -j $(JOBS)
	scripts/run-fuzzers.sh $(FUZZ)/bin $(FUZZ_SECONDS)

format: deps-lint
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

bench: build
	scripts/run-benchmarks.sh $(BUILD)/bin

# The simulator against the stored overcommit-rig results, both ways of modelling TCG's speed
# (docs/simulator.md, "Validation against the overcommit rig"); a few minutes, no guest booted.
validate-sim: build
	python3 bench/sim/validate.py $(BUILD)/bin
	python3 bench/sim/validate.py $(BUILD)/bin --tcg-speed
	python3 bench/sim/validate.py $(BUILD)/bin --tcg-measured

# prefcpu_<version>_<arch>.deb in build-deb/ (dpkg-buildpackage on a copy of the tree), and lintian.
deb: deps-deb
	JOBS=$(JOBS) packaging/build-deb.sh $(DEB)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ) $(DEB)
