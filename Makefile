# Makefile - builds the slate programs into bin/, runs the tests and the demo

PREFIX ?= /usr/local
PKG_CONFIG ?= pkg-config
BATS ?= bats

# Debian 12 ships msgpack-c 4 as "msgpack"; newer releases call it "msgpack-c"
MSGPACK_PC := $(shell $(PKG_CONFIG) --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
PQ_CFLAGS := $(shell $(PKG_CONFIG) --cflags libpq 2>/dev/null || echo -I`pg_config --includedir 2>/dev/null`)
PQ_LIBS := $(shell $(PKG_CONFIG) --libs libpq 2>/dev/null || echo -L`pg_config --libdir 2>/dev/null` -lpq)
MP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(MSGPACK_PC) 2>/dev/null)
MP_LIBS := $(shell $(PKG_CONFIG) --libs $(MSGPACK_PC) 2>/dev/null || echo -lmsgpackc)

CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARNINGS) \
	-Ilib $(PQ_CFLAGS) $(MP_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)
LIBS = $(PQ_LIBS) $(MP_LIBS)

# slate-publish and slate-consume alone speak NATS JetStream: they add
# lib/broker/ and libnats (Debian's libnats-dev) to what every program links
NATS_LIBS := $(shell $(PKG_CONFIG) --libs libnats 2>/dev/null || echo -lnats)
BROKER_OBJ = $(patsubst %.c,build/%.o,$(wildcard lib/broker/*.c))
OBJS_publish = $(BROKER_OBJ)
OBJS_consume = $(BROKER_OBJ)
LIBS_publish = $(NATS_LIBS) -lpthread
LIBS_consume = $(NATS_LIBS) -lpthread

# make test SANITIZE=address,undefined
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

PROGRAMS = $(patsubst src/%/,bin/slate-%,$(sort $(dir $(wildcard src/*/*.c))))
LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=build/%.o)
HEADERS = $(wildcard lib/*.h lib/*/*.h src/*/*.h)

# test tools live under test/<tool>/ and build into test/bin/
TEST_PROGRAMS = $(patsubst test/%/,test/bin/slate-%,$(sort $(dir $(wildcard test/*/*.c))))

all: $(PROGRAMS) $(TEST_PROGRAMS)

# rebuild everything when the flags change (e.g. SANITIZE on or off)
build/flags: FORCE
	@mkdir -p build
	@echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' > $@

build/%.o: %.c $(HEADERS) build/flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/libslate.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

.SECONDEXPANSION:
bin/slate-%: $$(addsuffix .o,$$(addprefix build/,$$(basename $$(wildcard src/$$*/*.c)))) $$(OBJS_$$*) build/libslate.a
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) build/libslate.a $(LIBS) $(LIBS_$*)

test/bin/slate-%: $$(addsuffix .o,$$(addprefix build/,$$(basename $$(wildcard test/$$*/*.c)))) build/libslate.a
	@mkdir -p test/bin
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) build/libslate.a $(LIBS)

deps:
	@sh tools/ensure-deps.sh

# make test QUICK=1 skips the tests tagged slow (the fault matrix); a
# variable of its own, since BATS_FLAGS given on the command line would
# override anything added to it here
ifneq ($(QUICK),)
BATS_FILTER = --filter-tags '!slow'
endif

test: deps
	$(MAKE) all
	$(BATS) $(BATS_FLAGS) $(BATS_FILTER) test/

demo: deps
	$(MAKE) all
	bash tools/demo.sh

# manual pages (man/) and systemd units (systemd/, @BINDIR@ filled in)
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MAN_PAGES = $(wildcard man/*.1 man/*.5)
UNITS = $(wildcard systemd/*.service systemd/*.timer)

install: all
	@$(MAKE) --no-print-directory install-files

# what install copies, without building first: the suite's test/install.bats
# uses it, so that it never rebuilds bin/ (e.g. without the sanitizers) under
# the other tests' feet
install-files:
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 pipeline.sh $(DESTDIR)$(PREFIX)/bin/slate-replicator
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in $(UNITS); do \
		sed 's|@BINDIR@|$(PREFIX)/bin|g' $$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$${u#systemd/} && \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u#systemd/} || exit 1; \
	done

clean:
	rm -rf build bin/slate-* test/bin

FORCE:
.PHONY: all deps test demo install install-files clean FORCE

# make valgrind: memcheck of a 100k-event extract | load (and a --follow run)
# on a throwaway cluster; fails on any memory error or definite/indirect leak
valgrind: deps
	$(MAKE) all SANITIZE=
	bash tools/valgrind.sh

.PHONY: valgrind

# make fuzz [FUZZ_SECONDS=60]: build the libFuzzer harnesses of fuzz/ with clang
# and run each for FUZZ_SECONDS on a scratch copy of its seed corpus (see fuzz/run.sh)
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARNINGS) -Ilib \
	$(PQ_CFLAGS) $(MP_CFLAGS) -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZERS = build/fuzz/stream_reader build/fuzz/config_reader

build/fuzz/stream_reader: fuzz/stream_reader.c $(LIB_SRC) $(HEADERS)
build/fuzz/config_reader: fuzz/config_reader.c lib/config.c lib/jsvalue.c lib/config.h lib/jsvalue.h
$(FUZZERS):
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(LIBS) -lpthread

fuzz: $(FUZZERS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh $(FUZZERS)

# make fuzz-build: only build the harnesses (CI does, so that they keep compiling)
fuzz-build: $(FUZZERS)

.PHONY: fuzz fuzz-build
