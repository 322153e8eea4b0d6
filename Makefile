# The two commands of the README: `make run` and `make test`. Both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
DEV_DB ?= $(CURDIR)/.roster/dev.db

.PHONY: all bootstrap bootstrap-clang configure build run test test-sanitize check-thread-safety format clean

all: build

bootstrap:
	@scripts/bootstrap.sh

configure: bootstrap
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# A local server on an embedded SQLite file; --dev creates the database and a secret key.
run: build
	@mkdir -p $(dir $(DEV_DB))
	$(BUILD_DIR)/bin/roster-server --dev --db=$(DEV_DB)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize:
	@$(MAKE) test BUILD_DIR=build-sanitize BUILD_TYPE=Debug CMAKE_FLAGS=-DROSTER_SANITIZE=ON

# Builds every target with clang, whose -Wthread-safety checks the ABSL_GUARDED_BY annotations.
check-thread-safety: bootstrap
	@command -v clang++ >/dev/null || $(MAKE) -s bootstrap-clang
	@CXX=clang++ cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=OFF >/dev/null
	@cmake --build build-clang -j $(JOBS)

bootstrap-clang:
	@ROSTER_EXTRA_PACKAGES=clang scripts/bootstrap.sh

format:
	@git ls-files --cached --others --exclude-standard '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-sanitize build-clang
