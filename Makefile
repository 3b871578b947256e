# vem - declarative manager for virtual-machine clusters
#
#   make                      build ./vem
#   make check                all tests (unit, loader corpus, examples, fuzz,
#                             end-to-end on a local lab) with ASan+UBSan
#   make check-unit           unit tests, corpus and examples only (no root)
#   make install PREFIX=/usr/local DESTDIR=   (make uninstall: the same files)
#   make SANITIZE=address,undefined   sanitizer build (into build-san/)
#   make DEVELOPER=1          warnings are errors
#   make bench                benchmarks (print numbers; need the lab)
#   make demo                 start the lab, apply examples/clusters/lab.yaml, show status

VERSION := 0.1.0
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := yaml-0.1 libvirt libcurl libgit2 libcrypto
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
DATADIR = $(PREFIX)/share/vem
DOCDIR = $(PREFIX)/share/doc/vem
SYSTEMDUNITDIR = $(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(PREFIX)/lib/sysusers.d
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d

ifneq ($(SANITIZE),)
BUILD ?= build-san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SAN_FLAGS :=
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# vem itself opens libvirt, libcurl and libgit2 on their first call
# (cli/lazy.h): not linked; libgit2 by the soname of the one built against
LAZY_PKGS := libvirt libcurl libgit2
VEM_PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(filter-out $(LAZY_PKGS),$(PKGS)) 2>/dev/null)
GIT2_SONAME := $(shell objdump -p "$$($(PKG_CONFIG) --variable=libdir libgit2 2>/dev/null)/libgit2.so" \
	2>/dev/null | sed -n 's/^ *SONAME *//p')

WARN := -Wall -Wextra -Wno-unused-parameter -Wshadow=local -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wmissing-declarations
ifneq ($(DEVELOPER),)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) \
	-DVEM_VERSION='"$(VERSION)"' -D_GNU_SOURCE -I. -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)
LIBS = $(PKG_LIBS) -lpthread -lm
VEM_LIBS = $(VEM_PKG_LIBS) -ldl -lpthread -lm
ifneq ($(SANITIZE),)
# The sanitizers resolve the functions they intercept when the program
# starts (libtirpc's xdr_*, which libvirt calls, among them): a library
# opened later leaves them unresolved, a call through a null pointer. So the
# sanitizer build links the libraries too; vem's wrappers (cli/lazy.h) still
# run and find them loaded.
VEM_LIBS = $(LIBS) -ldl
endif

LIB_SRCS := $(sort $(wildcard util/*.c schema/*.c source/*.c hv/*.c reconciler/*.c))
CLI_SRCS := $(sort $(wildcard cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
LIBVEM := $(BUILD)/libvem.a

ifeq ($(BUILD),build)
all: vem
vem: $(BUILD)/vem
	cp $< $@
else
all: $(BUILD)/vem
endif

$(BUILD)/vem: $(CLI_OBJS) $(LIBVEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(LIBVEM) $(VEM_LIBS)

$(LIBVEM): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/cli/git_load.o: ALL_CFLAGS += -DVEM_GIT2_SONAME='"$(GIT2_SONAME)"'

$(BUILD)/tests/%: tests/unit/%.c $(LIBVEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBVEM) $(LIBS)

# unit tests of a CLI module link that module's object too
$(BUILD)/tests/test_saved_plan: tests/unit/test_saved_plan.c $(BUILD)/cli/saved_plan.o $(LIBVEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/cli/saved_plan.o $(LIBVEM) $(LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIBVEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBVEM) $(LIBS)

units: $(UNIT_BINS) $(TOOL_BINS)

guests:
	$(MAKE) -C contrib/lab/guests

# Fuzzing (clang + libFuzzer): one binary per tests/fuzz/fuzz_*.c (the
# loader, snapshots); tests/fuzz/run-short runs them all.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
fuzz: $(FUZZ_BINS)
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
		$(PKG_CFLAGS) -DVEM_VERSION='"$(VERSION)"' -o $@ $< \
		$(LIB_SRCS) $(LIBS)

# Tests: unit tests, corpus and examples run from the sanitizer build;
# end-to-end tests need root and start their own lab.
check:
	$(MAKE) SANITIZE=address,undefined all units
	$(MAKE) all guests
	tests/run all

check-unit:
	$(MAKE) SANITIZE=address,undefined all units
	tests/run unit

bench: all guests units
	tests/bench/run

demo: all guests
	contrib/demo.sh

# What `make install` puts where: "source:destination-directory:mode" per
# line (the bash completion is installed as plain "vem", the sysusers.d file
# as "vem.conf"). `make uninstall`
# removes exactly these files (tests/cli/run checks both).
INSTALL_FILES = \
	vem:$(BINDIR):755 \
	docs/vem.1:$(MANDIR)/man1:644 \
	docs/vem-cluster.yaml.5:$(MANDIR)/man5:644 \
	schema/vem-cluster.schema.json:$(DATADIR):644 \
	contrib/completion/vem.bash:$(BASHCOMPDIR):644 \
	contrib/completion/_vem:$(ZSHCOMPDIR):644 \
	contrib/completion/vem.fish:$(FISHCOMPDIR):644 \
	README.md:$(DOCDIR):644 \
	docs/sources.md:$(DOCDIR):644 \
	docs/balancing.md:$(DOCDIR):644 \
	docs/service.md:$(DOCDIR):644 \
	contrib/systemd/vem.env.example:$(DOCDIR):644 \
	contrib/systemd/vem.sysusers:$(SYSUSERSDIR):644
SYSTEMD_UNITS = vem-reconcile.service vem-reconcile.timer vem-reconcile-loop.service

install: all
	@set -e; for f in $(INSTALL_FILES); do \
		src=$${f%%:*}; rest=$${f#*:}; dir=$${rest%%:*}; mode=$${rest##*:}; \
		name=$$(basename "$$src"); [ "$$src" = contrib/completion/vem.bash ] && name=vem; \
		[ "$$src" = contrib/systemd/vem.sysusers ] && name=vem.conf; \
		echo "install $$src $(DESTDIR)$$dir/$$name"; \
		install -d "$(DESTDIR)$$dir"; \
		install -m "$$mode" "$$src" "$(DESTDIR)$$dir/$$name"; \
	done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	@set -e; for u in $(SYSTEMD_UNITS); do \
		echo "install contrib/systemd/$$u $(DESTDIR)$(SYSTEMDUNITDIR)/$$u (@BINDIR@=$(BINDIR))"; \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' -e 's|@SYSUSERSDIR@|$(SYSUSERSDIR)|g' \
			contrib/systemd/$$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u; \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; \
	done

uninstall:
	@for f in $(INSTALL_FILES); do \
		src=$${f%%:*}; rest=$${f#*:}; dir=$${rest%%:*}; \
		name=$$(basename "$$src"); [ "$$src" = contrib/completion/vem.bash ] && name=vem; \
		[ "$$src" = contrib/systemd/vem.sysusers ] && name=vem.conf; \
		rm -f "$(DESTDIR)$$dir/$$name"; \
	done
	@for u in $(SYSTEMD_UNITS); do rm -f "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u"; done
	-@rmdir "$(DESTDIR)$(DATADIR)" "$(DESTDIR)$(DOCDIR)" "$(DESTDIR)$(SYSUSERSDIR)" 2>/dev/null || true

clean:
	rm -rf build build-san build-fuzz vem

.PHONY: all units guests fuzz check check-unit bench demo install uninstall clean

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
