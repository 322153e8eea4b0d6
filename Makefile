# The two commands of the README: `make run` and `make test`. Both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
DEV_DB ?= $(CURDIR)/.roster/dev.db

.PHONY: all bootstrap bootstrap-clang configure build run test test-clients test-without-postgres image test-image test-sanitize check-standalone check-thread-safety test-tsan lint lint-proto proto-release bench bench-postgres bench-storage test-long test-abuse fuzz format clean

all: build

bootstrap:
	@scripts/bootstrap.sh

# ccache lets a second build tree reuse what an earlier one compiled alike: `make
# test-without-postgres` differs from `make test` in a few sources only (testing/postgres.cc,
# app/roster_server.cc). Paths are taken relative to the checkout and the build directory is not
# hashed, so trees match. CCACHE= builds without it (the clang builds, which share nothing).
CCACHE ?= ccache
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

configure: bootstrap
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=$(if $(CCACHE),$$(command -v $(CCACHE))) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# A local server on an embedded SQLite file; --dev creates the database and a secret key.
run: build
	@mkdir -p $(dir $(DEV_DB))
	$(BUILD_DIR)/bin/roster-server --dev --db=$(DEV_DB)

# Inside a throwaway PostgreSQL cluster, so the .postgres variants run beside the SQLite ones.
CTEST_ARGS ?=
test: build
	@cd $(BUILD_DIR) && $(CURDIR)/scripts/with-postgres.sh ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The client recipes alone (docs/clients.md; they also run in `make test`): each language's stubs
# generated from proto/ with Debian's tools, its recipe run against a real roster-server.
test-clients: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L clients

# The whole benchmark set (scripts/bench-all.sh: SQLite and PostgreSQL, 1 and 64 calls in flight,
# a large database, the storage micro-benchmark), then docs/performance.md's measured section.
# Knobs: BENCH_USERS (10000), BENCH_LARGE_USERS (1000000), BENCH_DURATION (3s). One scenario
# run by hand: BUILD_DIR=build scripts/bench.sh --seed=10000 --scenarios=get_user.
bench: build
	@BUILD_DIR=$(BUILD_DIR) scripts/bench-all.sh

# One roster-bench run on PostgreSQL (BENCH_ARGS go to it): a throwaway cluster with PostgreSQL's default durability (fsync on),
# a fresh database each run (seeded by roster-bench), results in $(BUILD_DIR)/bench-postgres.
bench-postgres: build
	@WITH_POSTGRES_DURABLE=1 scripts/with-postgres.sh sh -c 'BENCH_DB="$$ROSTER_TEST_POSTGRES_DSN" \
	  BUILD_DIR=$(BUILD_DIR) BENCH_DIR=$(BUILD_DIR)/bench-postgres scripts/bench.sh $(BENCH_ARGS)'

# UserStore against bare sqlite3 on one file in $(BUILD_DIR)/bench (a real disk, not tmpfs).
bench-storage: build
	@mkdir -p $(BUILD_DIR)/bench && cd $(BUILD_DIR)/bench && ../bin/roster-storage-bench $(BENCH_ARGS)

# The long reliability runs: CRASH_ROUNDS SIGKILL rounds of the crash-durability test (3 run
# in `make test`) and a SOAK_SECONDS soak of every RPC (30 s in `make test`). CI runs small
# bounds; run the defaults before a release.
CRASH_ROUNDS ?= 20
SOAK_SECONDS ?= 600
test-long: build
	@ROSTER_CRASH_ROUNDS=$(CRASH_ROUNDS) ROSTER_SOAK_SECONDS=$(SOAK_SECONDS) \
	  $(BUILD_DIR)/bin/integration_tests --gtest_filter='CrashTest.*:SoakTest.*'

# Attacks without credentials on a real roster-server (tests/abuse), ABUSE_SECONDS each on a fresh
# server: peak RSS, disk growth, a legitimate GetUser's p99 beside the attack, what the attacker
# got. Prints docs/reliability.md's table; fails when a target is missed. CI runs 2 s each.
ABUSE_SECONDS ?= 10
test-abuse: build
	@$(BUILD_DIR)/bin/roster-abuse --seconds=$(ABUSE_SECONDS)

# libFuzzer targets (clang, ASan+UBSan), each run FUZZ_SECONDS from its seed corpus in
# tests/fuzz/corpus/<target> (copied, so a run never edits the repository).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_identifiers fuzz_metadata fuzz_password_digests fuzz_tokens fuzz_page_tokens fuzz_images fuzz_second_factors fuzz_web_requests
fuzz: bootstrap
	@command -v clang++ >/dev/null || $(MAKE) -s bootstrap-clang
	@CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
	  -DROSTER_FUZZ=ON -DROSTER_SANITIZE=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf build-fuzz/corpus/$$t && mkdir -p build-fuzz/corpus/$$t && \
	  cp tests/fuzz/corpus/$$t/* build-fuzz/corpus/$$t/ && \
	  build-fuzz/bin/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	    -print_final_stats=1 build-fuzz/corpus/$$t 2>build-fuzz/$$t.log || \
	    { tail -40 build-fuzz/$$t.log; exit 1; }; \
	  echo "$$t: $$(grep -o 'stat::number_of_executed_units: [0-9]*' build-fuzz/$$t.log | \
	    grep -o '[0-9]*$$') executions in $(FUZZ_SECONDS) s, no crash"; \
	done

# The container image from deploy/Dockerfile, tagged roster:<version>, with docker or (no engine
# needed) podman; makes a local debian:bookworm-slim with debootstrap when no registry answers.
image: bootstrap
	@scripts/image.sh

# The image built, exported and run as the manifests run it (read-only root, uid 10001, only the
# volumes writable), on SQLite and on the PostgreSQL overlay against a throwaway cluster; the
# roster CLI from this build creates, reads, signs in and restarts (tests/image/check_image.py).
test-image: build
	@scripts/with-postgres.sh /usr/bin/python3 tests/image/check_image.py --cli $(BUILD_DIR)/bin/roster

# The suite built without the PostgreSQL adapter (-DROSTER_POSTGRES=OFF): proves Roster builds
# and passes without libpq, as a SQLite-only deployment would build it. ccache reuses `make
# test`'s objects for all but the few sources the adapter changes. Left out: the measurements
# (bench, abuse, timing), the manifest check, the client recipes and the browser and Node
# end-to-end runs (e2e), which drive objects identical to the ones `make test` just ran them on,
# on the same SQLite file, and say nothing about the adapter's absence.
test-without-postgres: bootstrap
	@$(MAKE) test BUILD_DIR=build-nopg CMAKE_FLAGS="-DROSTER_POSTGRES=OFF" \
	  CTEST_ARGS="-LE 'bench|abuse|deploy|timing|clients|e2e'"

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer, built by clang: it
# compiles this unoptimised, instrumented build in 5 minutes where GCC takes 9 (2 cores).
# The PostgreSQL adapter runs under the sanitizers in the storage tests; the .postgres
# integration variants (the same server code over the same adapter) and the client recipes (other
# languages' code; the calls they make are in the integration suites) stay in `make test`, to keep
# CI within its budget.
test-sanitize: bootstrap
	@command -v clang++ >/dev/null || $(MAKE) -s bootstrap-clang
	@$(MAKE) test BUILD_DIR=build-sanitize BUILD_TYPE=Debug CCACHE= \
	  CMAKE_FLAGS="-DROSTER_SANITIZE=ON -DCMAKE_CXX_COMPILER=clang++" \
	  CTEST_ARGS="-LE 'postgres|clients'"

# ThreadSanitizer (clang) over the tests that run threads against each other: the storage
# layer's group commit and reader pool (and the PostgreSQL adapter's pool, listener and racing
# stores), the domain services, the client session verifier, the answers kept from OAuth
# providers (one fetch shared by waiting callers), and the integration suites with
# concurrent writers, watchers and sign-ins, the server and CLI processes they start included;
# the PostgreSQL-only suites (replicas, outage, failover) run on PostgreSQL. A reported race
# fails the run. The soak runs too (30 s of every RPC against a TSan server, which exits 66 on a
# race), without its flat-memory bound, which would measure TSan's shadow memory.
# TSAN_SCOPE=unit (CI's, for its time budget) leaves out the integration suites, whose Roster
# code TSan mostly cannot see anyway: it runs on gRPC's uninstrumented callback threads
# (docs/reliability.md).
TSAN_PG_SUITES := PgReplicasTest.*:PgOutageTest.*:PgOverloadTest.*:PgDeliveryTest.*:PgFailoverTest.*:PgTimedStoreTest.*:PgOAuthRefreshTest.*
TSAN_FILTER := *-$(TSAN_PG_SUITES)
TSAN_SCOPE ?= all
test-tsan: bootstrap
	@command -v clang++ >/dev/null || $(MAKE) -s bootstrap-clang
	@CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROSTER_TSAN=ON >/dev/null
	@cmake --build build-tsan -j $(JOBS) \
	  --target storage_unit_tests domain_unit_tests client_unit_tests oauth_unit_tests \
	  $(if $(filter unit,$(TSAN_SCOPE)),,integration_tests)
	@export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan/suppressions.txt"; \
	  scripts/with-postgres.sh build-tsan/bin/storage_unit_tests --gtest_brief=1 && \
	  build-tsan/bin/domain_unit_tests --gtest_brief=1 && \
	  build-tsan/bin/client_unit_tests --gtest_brief=1 && \
	  build-tsan/bin/oauth_unit_tests --gtest_brief=1 && \
	  $(if $(filter unit,$(TSAN_SCOPE)),true,build-tsan/bin/integration_tests --gtest_brief=1 --gtest_filter='$(TSAN_FILTER)' && \
	  ROSTER_TEST_STORE=postgres scripts/with-postgres.sh build-tsan/bin/integration_tests --gtest_brief=1 --gtest_filter='$(TSAN_PG_SUITES)')

# Each source compiled on its own (syntax only, with its unity unit's flags): finds a source that
# compiles only beside its unity neighbours. 6 to 11 minutes on 2 cores, so not part of CI.
check-standalone: build
	@python3 scripts/check_standalone.py $(BUILD_DIR) $(JOBS)

# Builds every target with clang, whose -Wthread-safety checks the ABSL_GUARDED_BY annotations.
check-thread-safety: bootstrap
	@command -v clang++ >/dev/null || $(MAKE) -s bootstrap-clang
	@CXX=clang++ cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-clang -j $(JOBS)

# The layering first (scripts/check_layers.py: an include that runs up or sideways fails), then
# clang-tidy with .clang-tidy over the service's sources (server, storage, client); any finding
# fails. Its clang front end also reports -Wthread-safety, so this covers check-thread-safety
# too. clang-tidy runs over the unity build's units, eight sources to a unit, not source by
# source: it spends most of its time in the gRPC, protobuf and Abseil headers each unit includes
# (225 s against 630 s on the 2-core machine, the same findings). scripts/tidy_units.py picks the
# units and fails unless they compile every source in scope; bugprone-suspicious-include, which
# every unit would trip, is checked by check_layers.py instead. `make lint TIDY_SCOPE=all` adds
# the tests.
TIDY_SCOPE ?= service
ifeq ($(TIDY_SCOPE),all)
# tests/testing/tsan_*.cc is compiled into TSan builds only.
TIDY_SCOPE_REGEX := (server|storage|client|tests/(integration|unit|bench))/|tests/testing/(?!tsan_)
else
TIDY_SCOPE_REGEX := (server|storage|client)/
endif
lint: bootstrap
	@python3 scripts/check_layers.py .
	@command -v run-clang-tidy >/dev/null || $(MAKE) -s bootstrap-clang
	@CXX=clang++ cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=ON \
	  -DROSTER_UNITY_BUILD=ON -DROSTER_TEST_UNITY_BUILD=ON >/dev/null
	@cmake --build build-clang -j $(JOBS) --target roster_proto_generated roster_reflection_headers >/dev/null
	@python3 scripts/tidy_units.py . build-clang '$(TIDY_SCOPE_REGEX)' >build-clang/tidy-units.txt
	@run-clang-tidy -p build-clang -j $(JOBS) -quiet -checks=-bugprone-suspicious-include \
	  "$$(cat build-clang/tidy-units.txt)" >build-clang/tidy.log 2>&1 || \
	  { grep -E 'warning:|error:' build-clang/tidy.log | sort -u; exit 1; }
	@echo "clang-tidy: no findings"

# buf lint on proto/, and buf breaking against the newest released API, kept as a buf image in
# tools/buf/releases/ (so the check needs no git tags in the clone). buf comes from npm, pinned by
# tools/buf/package-lock.json. After tagging a release vX.Y.Z: make proto-release VERSION=vX.Y.Z
BUF_DIR := $(BUILD_DIR)/tools/buf
BUF := $(BUF_DIR)/node_modules/.bin/buf
LAST_RELEASE = $(lastword $(sort $(wildcard tools/buf/releases/v*.json)))
$(BUF): tools/buf/package.json tools/buf/package-lock.json
	@mkdir -p $(BUF_DIR) && cp tools/buf/package.json tools/buf/package-lock.json $(BUF_DIR)/
	@cd $(BUF_DIR) && npm ci --no-audit --no-fund --loglevel=error >/dev/null

lint-proto: bootstrap $(BUF)
	$(BUF) lint
	@test -n "$(LAST_RELEASE)" || { echo "no released API in tools/buf/releases/"; exit 1; }
	$(BUF) breaking --against $(LAST_RELEASE)

proto-release: $(BUF)
	@test -n "$(VERSION)" || { echo "usage: make proto-release VERSION=vX.Y.Z"; exit 1; }
	$(BUF) build '.git#tag=$(VERSION),subdir=proto' -o tools/buf/releases/$(VERSION).json

bootstrap-clang:
	@ROSTER_EXTRA_PACKAGES="clang clang-tidy libclang-rt-14-dev" scripts/bootstrap.sh

format:
	@git ls-files --cached --others --exclude-standard '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-nopg build-sanitize build-clang build-fuzz build-tsan
