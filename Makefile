# xdpnet build. `make help` lists the targets.
#
# Everything is incremental: each output depends on exactly its inputs, so a
# second `make build` with nothing changed runs no compiler.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-builtin-rules

ARCH := $(shell uname -m)
NODE := node
NPX_BIN := node_modules/.bin
# Build the addon against the installed Node's own headers, never a download.
NODEDIR ?= $(abspath $(dir $(shell command -v $(NODE)))/..)

# ---------------------------------------------------------------- deps
# Debian packages the project needs at build, test and run time.
APT_PACKAGES := \
	clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3 \
	bpftool iproute2 iputils-ping ethtool tcpdump tshark util-linux \
	netcat-openbsd nftables procps python3-grpcio python3-protobuf systemd openssl protobuf-compiler

NPM_STAMP := node_modules/.xdpnet-installed

.PHONY: deps deps-apt deps-npm
deps: deps-apt deps-npm ## install every Debian and npm dependency (idempotent)

# Only packages that are missing are installed, after one `apt-get update`;
# when nothing is missing this does nothing at all.
deps-apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || echo "$$p"; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		[ "$$(id -u)" = 0 ] || { echo "deps: need root to install Debian packages: $$missing" >&2; exit 1; }; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "deps: Debian packages present"; \
	fi

deps-npm: $(NPM_STAMP)
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# ---------------------------------------------------------------- sources
BPF_CFLAGS := -O2 -g -target bpf -I/usr/include/$(ARCH)-linux-gnu -Ibpf \
	-Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -MMD -MP
BPF_SRCS := $(wildcard bpf/*.bpf.c bpf/tests/*.bpf.c bpf/bench/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,bpf/build/%.bpf.o,$(BPF_SRCS))

PROTOS := $(shell find proto -name '*.proto')
GEN_REASONS := bpf/lib/gen/reasons.h src/gen/reasons.ts
GEN_PROTO_STAMP := src/gen/proto/.stamp
# protoc's own descriptors of the API (and grpc.health.v1), served by reflection.
PROTOSET := build/proto/xdpnet.protoset
HEALTH_PROTO_DIR := node_modules/grpc-health-check/proto

NATIVE_SRCS := $(wildcard native/src/*.cc native/src/*.h) native/binding.gyp
NATIVE_ADDON := native/build/Release/xdpnet_native.node

TS_SRCS := $(shell find src -name '*.ts' -not -path 'src/gen/*')
TS_STAMP := dist/.stamp

# ---------------------------------------------------------------- build
.PHONY: build gen bpf native ts
build: bpf native ts $(PROTOSET) ## compile BPF objects, the addon, generated code and TypeScript

gen: $(GEN_REASONS) $(GEN_PROTO_STAMP) $(PROTOSET)

# Reflection must describe the API exactly as written (file names, snake_case
# fields, map entries), which protobufjs's regenerated descriptors do not.
$(PROTOSET): $(PROTOS) | $(NPM_STAMP)
	@mkdir -p $(dir $@)
	protoc --include_imports --include_source_info --descriptor_set_out=$@ \
		-Iproto -I$(HEALTH_PROTO_DIR) $(patsubst proto/%,%,$(PROTOS)) health/v1/health.proto

# Reason codes: one source (proto enum), two generated views (C and TS).
$(GEN_REASONS) &: proto/xdpnet/v1/reasons.proto scripts/gen-reasons.mjs | $(NPM_STAMP)
	$(NODE) scripts/gen-reasons.mjs $< $(GEN_REASONS)

# TypeScript types for the gRPC API, generated from proto/.
$(GEN_PROTO_STAMP): $(PROTOS) | $(NPM_STAMP)
	rm -rf src/gen/proto
	$(NPX_BIN)/proto-loader-gen-types --longs=String --enums=String --defaults --oneofs \
		--grpcLib=@grpc/grpc-js --importFileExtension=.js --outDir=src/gen/proto \
		$(patsubst proto/%,%,$(PROTOS)) --includeDirs=proto
	@# One import point for the message types: src/gen/proto/xdpnet/v1/index.ts.
	for f in src/gen/proto/xdpnet/v1/*.ts; do \
		echo "export * from './$$(basename $$f .ts).js';"; \
	done > src/gen/proto/xdpnet/v1/index.ts.tmp
	mv src/gen/proto/xdpnet/v1/index.ts.tmp src/gen/proto/xdpnet/v1/index.ts
	touch $@

bpf: $(BPF_OBJS)
bpf/build/%.bpf.o: bpf/%.bpf.c bpf/lib/gen/reasons.h
	@mkdir -p $(dir $@)
	clang $(BPF_CFLAGS) -c $< -o $@
-include $(BPF_OBJS:.o=.d)

native: $(NATIVE_ADDON)
$(NATIVE_ADDON): $(NATIVE_SRCS) | $(NPM_STAMP)
	cd native && ../$(NPX_BIN)/node-gyp configure --nodedir=$(NODEDIR) --silent
	cd native && ../$(NPX_BIN)/node-gyp build --nodedir=$(NODEDIR) --silent -j 2
	@touch $@

ts: $(TS_STAMP)
$(TS_STAMP): $(TS_SRCS) $(GEN_REASONS) $(GEN_PROTO_STAMP) tsconfig.json tsconfig.build.json
	$(NPX_BIN)/tsc -p tsconfig.build.json
	touch $@

# ---------------------------------------------------------------- checks
.PHONY: lint test
lint: gen $(NATIVE_ADDON) ## type-check everything strictly; C/C++ warnings are errors in the build itself
	$(NPX_BIN)/tsc --noEmit -p tsconfig.json
	@for f in $(BPF_SRCS); do clang $(BPF_CFLAGS) -MF /dev/null -fsyntax-only $$f; done
	@echo "lint: clean"

# VITEST_ARGS passes options through, e.g. `make test VITEST_ARGS=test/bpf`.
# VITEST_REPORT=FILE also writes vitest's JSON report there (used by .ci/run).
test: deps build lint ## install what is missing, build, lint, run every test
	$(NPX_BIN)/vitest run $(if $(VITEST_REPORT),--reporter=default --reporter=json --outputFile.json=$(VITEST_REPORT)) $(VITEST_ARGS)

# ---------------------------------------------------------------- install
# A self-contained tree under $(LIBDIR) (built code, BPF objects, addon, protos,
# production node_modules), launchers in $(BINDIR), the unit and the example
# configuration in their system places. DESTDIR stages it elsewhere.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib/xdpnet
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= /etc/systemd/system
CONFDIR ?= /etc/xdpnet

.PHONY: install
install: build ## install under PREFIX (default /usr/local), the unit and /etc/xdpnet/xdpnetd.example.yaml
	rm -rf $(DESTDIR)$(LIBDIR)
	install -d $(DESTDIR)$(LIBDIR)/bpf $(DESTDIR)$(LIBDIR)/native/build/Release $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(CONFDIR)
	cp -r dist proto bin package.json package-lock.json README.md $(DESTDIR)$(LIBDIR)/
	cp -r bpf/build $(DESTDIR)$(LIBDIR)/bpf/
	install -d $(DESTDIR)$(LIBDIR)/build && cp -r build/proto $(DESTDIR)$(LIBDIR)/build/
	install -m 0755 $(NATIVE_ADDON) $(DESTDIR)$(LIBDIR)/native/build/Release/
	cp -r node_modules $(DESTDIR)$(LIBDIR)/
	cd $(DESTDIR)$(LIBDIR) && npm prune --omit=dev --no-audit --no-fund >/dev/null
	ln -sf $(LIBDIR)/bin/xdpnetd $(DESTDIR)$(BINDIR)/xdpnetd
	ln -sf $(LIBDIR)/bin/xdpnet $(DESTDIR)$(BINDIR)/xdpnet
	install -m 0644 packaging/xdpnetd.service $(DESTDIR)$(UNITDIR)/xdpnetd.service
	install -m 0644 packaging/xdpnetd.example.yaml $(DESTDIR)$(CONFDIR)/xdpnetd.example.yaml
	@echo "installed; next: cp $(CONFDIR)/xdpnetd.example.yaml $(CONFDIR)/xdpnetd.yaml, edit, systemctl enable --now xdpnetd"

# ---------------------------------------------------------------- benchmarks and demo
# `make bench` runs bench/main.ts: the control plane, then every dataplane
# scenario next to its kernel baseline and the XDP floor, one table on stdout,
# bench/results/bench.json and bench/results/bench.svg. A few minutes; about
# one with BENCH_ARGS=--quick. BENCH_ARGS takes every flag (bench/options.ts,
# bench/dataplane/options.ts), e.g. `--only dataplane`, `--rounds 10`, or
# `--port-if eth1 --uplink-if eth2` for real interfaces (docs/BENCHMARKS.md).
BENCH_ARGS ?=

.PHONY: bench demo
bench: deps build ## every benchmark, one report: control plane and dataplane against baselines measured in the same run (BENCH_ARGS=--quick: about a minute)
	$(NPX_BIN)/tsc -p bench/tsconfig.json
	$(NODE) build/bench/bench/main.js $(BENCH_ARGS)

# The demo (src/demo/): installs what is missing and builds, one line per
# phase with a dot every few seconds while it works (its output goes to
# build/demo-<phase>.log and is shown only if the phase fails), then runs the
# demo program, which leaves its topology up to explore until `make demo-clean`.
DEMO_PHASE = @mkdir -p build; printf '==> %s ' '$(2)'; start=$$(date +%s); \
	$(MAKE) --no-print-directory $(1) >build/demo-$(1).log 2>&1 & pid=$$!; \
	ticks=0; while kill -0 $$pid 2>/dev/null; do \
		sleep 1; ticks=$$((ticks + 1)); [ $$((ticks % 5)) -ne 0 ] || printf '.'; \
	done; \
	if wait $$pid; then \
		echo " done ($$(( $$(date +%s) - start )) s)"; \
	else \
		echo " FAILED; the end of build/demo-$(1).log:"; tail -n 40 build/demo-$(1).log; exit 1; \
	fi

DEMO_DEPS_TITLE := installing what is missing (make deps)
DEMO_BUILD_TITLE := building (make build: BPF programs, native addon, TypeScript)

.PHONY: demo-clean
demo: ## a three-node self-service cloud in network namespaces, real daemons and traffic (then: make demo-clean)
	$(call DEMO_PHASE,deps,$(DEMO_DEPS_TITLE))
	$(call DEMO_PHASE,build,$(DEMO_BUILD_TITLE))
	@$(NODE) dist/demo/main.js

# Works from the system's state (pid files, namespaces, pins), so it also
# cleans up after an interrupted or killed demo. Needs only the compiled demo.
demo-clean: ## remove everything make demo created: daemons, namespaces, bpffs pins, /run/xdpnet-demo
	@[ -f dist/demo/main.js ] || $(MAKE) --no-print-directory ts >/dev/null
	@$(NODE) dist/demo/main.js clean

# ---------------------------------------------------------------- housekeeping
.PHONY: clean help
clean: ## remove every build output (keeps node_modules)
	rm -rf bpf/build native/build dist src/gen bpf/lib/gen build

help:
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'
