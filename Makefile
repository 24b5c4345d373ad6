# netsynth: one library (src/), one CLI (cli/), cmocka tests (tests/), libFuzzer targets (fuzz/).
# `make` builds build/netsynth, build/libnetsynth.a and build/libnetsynth.so.
# BUILD=dir puts every output elsewhere (the asan build uses build-asan).

BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= cc
VERSION := 0.1.0

OPT      ?= -O2
CPPFLAGS += -Iinclude -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64
# Hidden by default: the shared library exports only what the public headers
# declare (each wraps itself in `#pragma GCC visibility push(default)`).
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Wshadow -Wno-unused-parameter -fPIC -fvisibility=hidden -fopenmp $(SANITIZE)
LDFLAGS  += -fopenmp $(SANITIZE)
LDLIBS   += -lpcap -lpng -lz -ldl -lm

# MPI, for the CLI only (cli/mpi.c; the library has none): MPI=1 where mpicc
# is found (Open MPI's -showme, else MPICH's pkg-config), MPI=0 without; the
# program is then what it was without MPI, cli/mpi.c standing in for one process.
MPICC ?= mpicc
MPI   ?= $(if $(shell command -v $(MPICC) 2>/dev/null),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS ?= $(shell $(MPICC) -showme:compile 2>/dev/null || pkg-config --cflags mpich 2>/dev/null)
MPI_LIBS   ?= $(shell $(MPICC) -showme:link 2>/dev/null || pkg-config --libs mpich 2>/dev/null)
ifeq ($(strip $(MPI_LIBS)),)
$(error MPI=1 but neither `$(MPICC) -showme:link` nor pkg-config mpich says how to link MPI: install openmpi-bin libopenmpi-dev, or build with MPI=0)
endif
$(BUILD)/cli/mpi.o: CPPFLAGS += -DNETSYNTH_MPI $(MPI_CFLAGS)
endif

LIB_SRC  := $(sort $(wildcard src/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
FUZZERS  := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)

.SECONDARY:
.PHONY: all test asan fuzz fuzz-run install uninstall clean bench demo
all: $(BUILD)/netsynth $(BUILD)/libnetsynth.a $(BUILD)/libnetsynth.so $(TESTS)

$(BUILD)/%.o: %.c $(wildcard include/netsynth/*.h src/*.h cli/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# VERSION in three numbers, which src/version.c checks against netsynth.h's.
$(BUILD)/src/version.o: CPPFLAGS += $(join -DNS_MAKE_VERSION_MAJOR= -DNS_MAKE_VERSION_MINOR= -DNS_MAKE_VERSION_PATCH=,$(subst ., ,$(VERSION)))
$(BUILD)/src/version.o: Makefile

# cli/mpi.o and the program again when MPI=0/1 changes.
$(BUILD)/mpi-$(MPI).stamp:
	@mkdir -p $(BUILD) && rm -f $(BUILD)/mpi-*.stamp && touch $@
$(BUILD)/cli/mpi.o: $(BUILD)/mpi-$(MPI).stamp
# test_mpi skips with a message in a build without MPI.
$(BUILD)/tests/test_mpi.o: CPPFLAGS += -DNETSYNTH_MPI_BUILT=$(MPI)
$(BUILD)/tests/test_mpi.o: $(BUILD)/mpi-$(MPI).stamp

$(BUILD)/libnetsynth.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libnetsynth.so: $(LIB_OBJ) src/libnetsynth.map
	$(CC) -shared -Wl,-soname,libnetsynth.so.0 -Wl,--version-script=src/libnetsynth.map $(LDFLAGS) $(LIB_OBJ) -o $@ $(LDLIBS)

$(BUILD)/netsynth: $(CLI_OBJ) $(BUILD)/libnetsynth.a
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(BUILD)/libnetsynth.a -o $@ $(LDLIBS) $(MPI_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/tests/testutil.o $(BUILD)/libnetsynth.a
	$(CC) $(LDFLAGS) $< $(BUILD)/tests/testutil.o $(BUILD)/libnetsynth.a -o $@ $(LDLIBS) -lcmocka

# The whole suite; tests/run.sh prints one line per test binary and a total.
test: all
	@NETSYNTH_BIN=$(BUILD)/netsynth sh tests/run.sh $(TESTS)

# Sanitizer build: ASan + UBSan, the same suite.
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# libFuzzer targets (clang), ASan + UBSan with every report fatal; the
# library is compiled once for all of them. fuzz-run runs each for
# FUZZ_SECONDS, prints its execution count, and fails (after running them
# all) when any fuzzer crashed, leaked, timed out or a sanitizer reported:
# logs in build-fuzz/logs/, reproducers in build-fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -O1 -g -Iinclude -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -fopenmp $(FUZZ_SAN)
FUZZ_OBJ    := $(LIB_SRC:src/%.c=build-fuzz/obj/%.o)
fuzz: $(FUZZERS)
build-fuzz/obj/%.o: src/%.c $(wildcard include/netsynth/*.h src/*.h)
	@mkdir -p build-fuzz/obj
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
build-fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJ) -o $@ $(LDLIBS)
fuzz-run: fuzz
	@mkdir -p build-fuzz/logs; fail=""; for f in $(FUZZERS); do n=$$(basename $$f); mkdir -p fuzz/corpus-$$n; \
	  log=build-fuzz/logs/$$n.log; echo "== $$n for $(FUZZ_SECONDS) s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -artifact_prefix=build-fuzz/$$n- \
	    fuzz/corpus-$$n fuzz/seeds/$${n#fuzz_} >$$log 2>&1; rc=$$?; \
	  grep -E '^#[0-9]+[[:space:]]+DONE' $$log | tail -n 1; \
	  if [ $$rc -ne 0 ] || grep -qE 'runtime error|ERROR: [A-Za-z]*Sanitizer|ERROR: libFuzzer|^SUMMARY: ' $$log; then \
	    echo "FAILED: $$n exited $$rc; from $$log:"; \
	    grep -E -m 3 -A 12 'runtime error|ERROR: [A-Za-z]*Sanitizer|ERROR: libFuzzer|^SUMMARY: ' $$log || tail -n 5 $$log; \
	    fail="$$fail $$n"; fi; done; \
	  if [ -n "$$fail" ]; then echo "fuzz-run: failed:$$fail"; exit 1; fi; echo "fuzz-run: every fuzzer clean"

bench: all
	sh bench/run.sh

demo: all
	sh scripts/demo.sh

# install: what `make` builds (the program and both libraries; no tests),
# the headers, netsynth.pc, the man page and the Python module, under
# $(DESTDIR)$(PREFIX). uninstall removes exactly those files.
# tests/test_install.c checks both.
SONAME    := libnetsynth.so.0
INSTALLED := bin/netsynth lib/libnetsynth.a lib/libnetsynth.so lib/$(SONAME) lib/libnetsynth.so.$(VERSION) \
             lib/pkgconfig/netsynth.pc share/man/man1/netsynth.1
# The Python module goes where Debian's python3 looks: /usr/lib/python3/dist-packages
# for PREFIX=/usr (the packages' place), PREFIX/lib/python3.X/dist-packages for any
# other prefix (/usr/local's is on Debian's sys.path). It finds the library in
# PREFIX/lib, three folders up.
PYTHON    ?= python3
PYTHONDIR ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/python$(shell \
             $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)/dist-packages)
install: $(BUILD)/netsynth $(BUILD)/libnetsynth.a $(BUILD)/libnetsynth.so netsynth.pc.in man/netsynth.1 \
         python/netsynth/__init__.py
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/netsynth \
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/netsynth $(DESTDIR)$(PREFIX)/bin/netsynth
	install -m 644 $(BUILD)/libnetsynth.a $(DESTDIR)$(PREFIX)/lib/libnetsynth.a
	install -m 755 $(BUILD)/libnetsynth.so $(DESTDIR)$(PREFIX)/lib/libnetsynth.so.$(VERSION)
	ln -sf libnetsynth.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libnetsynth.so
	install -m 644 include/netsynth/*.h $(DESTDIR)$(PREFIX)/include/netsynth/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' netsynth.pc.in > $(BUILD)/netsynth.pc
	install -m 644 $(BUILD)/netsynth.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/netsynth.pc
	install -m 644 man/netsynth.1 $(DESTDIR)$(PREFIX)/share/man/man1/netsynth.1
	install -d $(DESTDIR)$(PYTHONDIR)/netsynth
	install -m 644 python/netsynth/__init__.py $(DESTDIR)$(PYTHONDIR)/netsynth/__init__.py

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	rm -rf $(DESTDIR)$(PREFIX)/include/netsynth
	rm -rf $(DESTDIR)$(PYTHONDIR)/netsynth

clean:
	rm -rf build build-asan build-fuzz
