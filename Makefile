# The front door. `make run` runs prefcpud on this machine; `make test` builds with sanitizers and
# runs every test. Each target installs the Debian packages it needs first.

BUILD_PACKAGES := cmake g++ make pkg-config libfmt-dev nlohmann-json3-dev libcli11-dev \
                  libtomlplusplus-dev libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev
RUN_PACKAGES   := $(BUILD_PACKAGES) util-linux
TEST_PACKAGES  := $(BUILD_PACKAGES) util-linux procps irqbalance gnuplot-nox \
                  qemu-system-x86 busybox-static cpio kmod zstd \
                  mmdebstrap $(filter-out $(BUILD_PACKAGES),$(DEB_PACKAGES))
LINT_PACKAGES  := $(BUILD_PACKAGES) clang-format clang-tidy
DEB_PACKAGES   := $(BUILD_PACKAGES) debhelper dpkg-dev lintian cpio

JOBS      ?= $(shell nproc)
BUILD     := build
ASAN      := build-asan
DEB       := build-deb
ENSURE    := scripts/ensure-packages.sh

.PHONY: all build run test vmtest lint format bench install deb clean deps-build deps-test deps-run \
        deps-lint deps-deb

all: build

deps-build: ; @$(ENSURE) $(BUILD_PACKAGES)
deps-run:   ; @$(ENSURE) $(RUN_PACKAGES)
deps-test:  ; @$(ENSURE) $(TEST_PACKAGES)
deps-lint:  ; @$(ENSURE) $(LINT_PACKAGES)
deps-deb:   ; @$(ENSURE) $(DEB_PACKAGES)

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

# The systemd guest installs the package: build it first.
vmtest: deps-test build deb
	tests/vm/run-all.sh $(BUILD)/bin --deb-dir $(DEB)

# clang-format must leave the tree unchanged and clang-tidy must be silent.
lint: deps-lint
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFCPU_SANITIZE=ON -DPREFCPU_BUILD_BENCH=OFF
	JOBS=$(JOBS) scripts/lint.sh $(ASAN)

format: deps-lint
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

bench: build
	scripts/run-benchmarks.sh $(BUILD)/bin

# prefcpu_<version>_<arch>.deb in build-deb/ (dpkg-buildpackage on a copy of the tree), and lintian.
deb: deps-deb
	JOBS=$(JOBS) packaging/build-deb.sh $(DEB)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) $(DEB)
