# moat: plain GNU make.
#   make            build libraries, tools and tests into build/
#   make deps       install the Debian packages moat needs (idempotent)
#   make test       deps + build + the whole suite (plain, ASan+UBSan, fuzz,
#                   and on x86_64 the arm64 build's unit tests under qemu)
#   make test-arm64 deps + the arm64 build + its unit tests under qemu
#   make check      the suite under ASan+UBSan only
#   make demo       deps + build + the demo on its embedded default
#   make fuzz-long  run every fuzz harness for FUZZ_SECONDS each (600)
#   make format     clang-format every C source with .clang-format
#   make install    programs, BPF objects, systemd units, sysusers.d and
#                   tmpfiles.d entries, an example /etc/moat/moat.conf
#                   (PREFIX=/usr/local, DESTDIR for a staging root)
#   make deb        Debian packages moat and moat-relay into $(BUILD)/deb/
#                   (with CROSS=aarch64-linux-gnu-: for arm64)
#   make CROSS=aarch64-linux-gnu-
#                   library, tools and tests for arm64 into build-arm64/
#                   (Debian's arm64 -dev packages: make deps installs them)
#   V=1             show the commands
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.DEFAULT_GOAL := all

# A cross build (CROSS=aarch64-linux-gnu-) has its own folder and finds
# the target's libraries through Debian's multiarch pkg-config files.
ifneq ($(CROSS),)
CROSS_ARCH := $(shell dpkg-architecture -qDEB_HOST_ARCH -t $(CROSS:-=) \
	2>/dev/null || echo $(CROSS:-=))
BUILD ?= build-$(CROSS_ARCH)
ifeq ($(origin CC),default)
CC := $(CROSS)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS)ar
endif
PKG_CONFIG ?= $(shell command -v $(CROSS)pkg-config 2>/dev/null || \
	echo PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS:-=)/pkgconfig:/usr/share/pkgconfig \
	pkg-config)
endif
BUILD ?= build
CC ?= cc
CLANG ?= clang
PKG_CONFIG ?= pkg-config
PKGS := libcrypto libssl liburing libseccomp libavformat libavcodec libavutil \
	libnftables libbpf

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2)
endif

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
ifeq ($(CI),true)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
MOAT_CPPFLAGS := -std=gnu11 -D_GNU_SOURCE -I. -I$(BUILD)/bpf \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpthread
ifneq ($(SAN),)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
endif
ALL_CFLAGS = $(MOAT_CPPFLAGS) $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

# The network policy's BPF programs: bpf/X.bpf.c -> X.bpf.o -> X.skel.h,
# against the UAPI headers only (no vmlinux.h, no CO-RE: they load on
# kernels without BTF, docs/POLICY.md). Loaders include the skeletons.
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
LLVM_STRIP ?= llvm-strip
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.skel.h)
BPF_CFLAGS := -g -O2 -target bpf -Wall -Wno-unused-function -I. \
	-I/usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)
ifeq ($(CI),true)
BPF_CFLAGS += -Werror
endif

# Subsystems that make up libmoat.
# daemon/moatd.c and daemon/moat-*.c are programs' mains; the rest of
# daemon/ is library.
ROLE_PROGS := moat-sealer moat-uplink
LIB_SRCS := $(wildcard common/*.c crypto/*.c capture/*.c policy/*.c) \
	$(filter-out daemon/moatd.c $(ROLE_PROGS:%=daemon/%.c),$(wildcard daemon/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libmoat.a

# Each tools/moat-X.c is a program; tools/X/*.c are its other parts.
TOOL_SRCS := $(wildcard tools/moat-*.c)
TOOLS := $(TOOL_SRCS:tools/%.c=$(BUILD)/bin/%) $(BUILD)/bin/moatd \
	$(BUILD)/bin/moatctl $(ROLE_PROGS:%=$(BUILD)/bin/%)
# The RTSP test camera runs on the build machine; Debian 12's
# libgstrtspserver-1.0-0 is not Multi-Arch, so no cross build of it.
ifneq ($(CROSS),)
TOOLS := $(filter-out $(BUILD)/bin/moat-testcam,$(TOOLS))
endif
tool_parts = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/$(1)/*.c))

TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TESTS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)

# Cameras through libcamera (capture/libcam.cpp, moat's one C++ file):
# built where libcamera's -dev files are (not the arm64 cross build), and
# linked only into moatd and moatctl (camera workers are moatd's forks,
# so each has it mapped; the camera manager starts only in a libcamera
# camera's worker).
HAVE_LIBCAMERA := $(shell $(PKG_CONFIG) --exists libcamera 2>/dev/null && echo 1)
LIBCAM_OBJ := $(BUILD)/obj/capture/libcam.o
LIBCAM_LIBS := $(shell $(PKG_CONFIG) --libs libcamera 2>/dev/null) -lstdc++
CXXWARN := -Wall -Wextra -Wformat=2 -Wno-unused-parameter
ifeq ($(CI),true)
CXXWARN += -Werror
endif
ifneq ($(HAVE_LIBCAMERA),1)
TESTS := $(filter-out $(BUILD)/tests/test_libcamera,$(TESTS))
endif

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -I. -I$(BUILD)/bpf -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 600

MEDIA := $(BUILD)/media/clip.h264
# motion detection: a still scene, and the same scene with one event
MEDIA_SCENES := $(BUILD)/media/still.h264 $(BUILD)/media/motion.h264
# an IP camera's H.265, and the motion scene as a camera's 320x180 substream
MEDIA_HEVC := $(BUILD)/media/clip-h265.hevc
MEDIA_SUB := $(BUILD)/media/motion-sub.h264

.PHONY: all deps test test-arm64 check demo fuzz fuzz-long media clean \
	run-tests format install install-files deb
all: $(LIB) $(TOOLS) $(TESTS) $(BPF_OBJS)

# A clear word instead of a missing header when the -dev packages are absent.
$(BUILD)/.pkgs-ok:
	@$(PKG_CONFIG) --exists $(PKGS) 2>/dev/null || { \
		echo "moat: pkg-config cannot find $(PKGS); run 'sudo make deps' first" >&2; \
		exit 1; }
	@mkdir -p $(@D) && touch $@

# every C object may include a skeleton: they come first (-MMD then tracks
# which one each uses)
$(BUILD)/obj/%.o: %.c | $(BUILD)/.pkgs-ok $(BPF_SKELS)
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBCAM_OBJ): capture/libcam.cpp | $(BUILD)/.pkgs-ok
	$(call msg,CXX,$<)
	@mkdir -p $(@D)
	$(Q)$(CXX) -std=c++17 -D_GNU_SOURCE -I. \
		$(shell $(PKG_CONFIG) --cflags libcamera 2>/dev/null) \
		$(CXXWARN) $(CFLAGS) $(SANFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/test_libcamera: $(LIBCAM_OBJ)
$(BUILD)/tests/test_libcamera: LDLIBS += $(LIBCAM_LIBS)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/policy.h bpf/common.bpf.h | $(BUILD)/.pkgs-ok
	$(call msg,BPF,$<)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@.tmp $< && \
		$(LLVM_STRIP) -g $@.tmp -o $@ && rm -f $@.tmp

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# with libcamera, its shim goes ahead of libmoat.a (whose
# capture/libcam_none.c then stays in the archive)
ifeq ($(HAVE_LIBCAMERA),1)
$(BUILD)/bin/moatd: LDLIBS += $(LIBCAM_LIBS)
$(BUILD)/bin/moatd: $(LIBCAM_OBJ)
endif
$(BUILD)/bin/moatd: $(BUILD)/obj/daemon/moatd.o $(LIB)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter-out $(LIB),$^) $(LIB) $(LDLIBS)

# The sealer and the uplink, exec'd by moatd (daemon/handoff.h): only the
# three libraries they use. Linking them with no more is the check that
# nothing they call drags camera, codec or policy code in.
ROLE_LDLIBS := $(shell $(PKG_CONFIG) --libs libcrypto liburing libseccomp \
	2>/dev/null)
$(ROLE_PROGS:%=$(BUILD)/bin/%): $(BUILD)/bin/%: $(BUILD)/obj/daemon/%.o $(LIB)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -Wl,--as-needed -o $@ $< $(LIB) $(ROLE_LDLIBS)

ifeq ($(HAVE_LIBCAMERA),1)
$(BUILD)/bin/moatctl: LDLIBS += $(LIBCAM_LIBS)
$(BUILD)/bin/moatctl: $(LIBCAM_OBJ)
endif
$(BUILD)/bin/moatctl: LDLIBS += -lqrencode
$(BUILD)/bin/moatctl: $(BUILD)/obj/tools/moatctl.o \
	$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/moatctl/*.c)) $(LIB)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter-out $(LIB),$^) $(LIB) $(LDLIBS)

# test_mp4 checks the viewer's MP4 writer, which lives with the viewer.
$(BUILD)/tests/test_mp4: $(BUILD)/obj/tools/view/mp4.o
# test_v4l2 seals in the VM and opens outside it with the demo's parts.
$(BUILD)/tests/test_v4l2: $(BUILD)/obj/tools/demo/keys.o \
	$(BUILD)/obj/tools/demo/seal.o $(BUILD)/obj/tools/demo/open.o
# test_libcamera and test_m2menc make the hub's keys and the viewers'
# with the demo's.
$(BUILD)/tests/test_libcamera: $(BUILD)/obj/tools/demo/keys.o
$(BUILD)/tests/test_m2menc: $(BUILD)/obj/tools/demo/keys.o

.SECONDEXPANSION:
# The test camera is GStreamer's RTSP server; nothing else links GStreamer.
GST_PKGS := gstreamer-1.0 gstreamer-rtsp-server-1.0
$(BUILD)/obj/tools/moat-testcam.o: MOAT_CPPFLAGS += \
	$(shell $(PKG_CONFIG) --cflags $(GST_PKGS) 2>/dev/null)
$(BUILD)/bin/moat-testcam: LDLIBS += \
	$(shell $(PKG_CONFIG) --libs $(GST_PKGS) 2>/dev/null)

$(BUILD)/bin/moat-%: $(BUILD)/obj/tools/moat-%.o $$(call tool_parts,$$*) $(LIB)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB_OBJS) $(LIB)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter-out $(LIB),$^) $(LIB) $(LDLIBS)

# Fuzzers build with clang straight from the sources (libFuzzer + ASan).
# fuzz_relay includes tools/moat-relay.c (its main renamed) and needs the
# relay's parts besides
$(BUILD)/fuzz/fuzz_relay: FUZZ_EXTRA := $(wildcard tools/relay/*.c)
$(BUILD)/fuzz/fuzz_relay: tools/moat-relay.c $(wildcard tools/relay/*.c tools/relay/*.h)
# fuzz_lanview includes daemon/lanview.c (to reach its statics): the
# library's sources without it
$(BUILD)/fuzz/fuzz_lanview: LIB_SRCS := $(filter-out daemon/lanview.c,$(LIB_SRCS))
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(TESTLIB_SRCS) $(wildcard */*.h tests/lib/*.h) $(BPF_SKELS)
	$(call msg,FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_EXTRA) $(LIB_SRCS) $(TESTLIB_SRCS) $(LDLIBS)

fuzz: $(FUZZERS)

# The demo and test clip: real H.264 made with ffmpeg/libx264, never
# committed.
$(MEDIA): tools/make-clip.sh
	$(call msg,CLIP,$@)
	$(Q)sh tools/make-clip.sh $@

$(MEDIA_SCENES): $(BUILD)/media/%.h264: tools/make-clip.sh
	$(call msg,CLIP,$@)
	$(Q)sh tools/make-clip.sh $@ 16 640x360 $*

$(MEDIA_HEVC): tools/make-clip.sh
	$(call msg,CLIP,$@)
	$(Q)sh tools/make-clip.sh $@ 4 640x360 pattern h265

$(MEDIA_SUB): tools/make-clip.sh
	$(call msg,CLIP,$@)
	$(Q)sh tools/make-clip.sh $@ 16 320x180 motion

media: $(MEDIA) $(MEDIA_SCENES) $(MEDIA_HEVC) $(MEDIA_SUB)

deps:
	$(Q)sh tools/install-deps.sh

run-tests:
	$(Q)tests/run-tests.sh $(RUN)

# The arm64 build (make CROSS=...) whose tests run under qemu-user; from an
# x86_64 machine only (tools/debian-packages-arm64.txt).
ARM64_BUILD := $(BUILD)-arm64
ifeq ($(shell uname -m),x86_64)
ARM64_RUN := qemu-arm64:$(ARM64_BUILD)/tests
endif
arm64 = $(MAKE) -s --no-print-directory BUILD=$(ARM64_BUILD) \
	CROSS=aarch64-linux-gnu- all

# make test and make demo build on every core (other targets as -j says).
NPROC := $(shell nproc 2>/dev/null || echo 1)

test: deps
	$(Q)$(MAKE) -s --no-print-directory -j$(NPROC) all fuzz media
	$(Q)$(MAKE) -s --no-print-directory -j$(NPROC) BUILD=$(BUILD)/san SAN=1 all
	$(if $(ARM64_RUN),$(Q)$(arm64) -j$(NPROC))
	$(Q)MOAT_MEDIA=$(MEDIA) MOAT_ARM64_BUILD=$(if $(ARM64_RUN),$(ARM64_BUILD)) \
		tests/run-tests.sh \
		$(BUILD)/tests $(BUILD)/san/tests fuzz:$(BUILD)/fuzz $(ARM64_RUN)

test-arm64: deps
	$(Q)$(MAKE) -s --no-print-directory media
	$(Q)$(arm64)
	$(Q)MOAT_MEDIA=$(MEDIA) tests/run-tests.sh qemu-arm64:$(ARM64_BUILD)/tests

check:
	$(Q)$(MAKE) -s --no-print-directory BUILD=$(BUILD)/san SAN=1 all
	$(Q)$(MAKE) -s --no-print-directory media
	$(Q)$(MAKE) -s --no-print-directory all
	$(Q)MOAT_MEDIA=$(MEDIA) tests/run-tests.sh $(BUILD)/san/tests \
		valgrind:$(BUILD)/tests

demo: deps
	$(Q)$(MAKE) -s --no-print-directory -j$(NPROC) all media
	$(Q)$(BUILD)/bin/moat-demo --out $(BUILD)/demo.mp4 --clips $(BUILD)/demo-clips $(MEDIA)

fuzz-long: fuzz
	$(Q)tests/fuzz-run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

# Installed layout (docs/INSTALL-PI5.md). moatd, moatctl and the units
# read /etc/moat/moat.conf whatever PREFIX is.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
DOCDIR ?= $(PREFIX)/share/doc/moat
SYSCONFDIR ?= /etc
UNITDIR ?= $(LIBDIR)/systemd/system
SYSUSERSDIR ?= $(LIBDIR)/sysusers.d
TMPFILESDIR ?= $(LIBDIR)/tmpfiles.d
INSTALL ?= install
INSTALL_BINS := moatctl moat-relay moat-view moat-bench
UNITS := moatd moat-policy moat-policy-watch moat-relay
DOCS := README.md docs/CONFIG.md docs/POLICY.md docs/RELAY.md \
	docs/SANDBOX.md docs/SPOOL.md docs/PROTOCOL.md docs/INSTALL-PI5.md

install: $(INSTALL_BINS:%=$(BUILD)/bin/%) $(BUILD)/bin/moatd \
	$(ROLE_PROGS:%=$(BUILD)/bin/%) $(BPF_OBJS)
	$(Q)$(MAKE) --no-print-directory install-files

# Packages: moat (the hub) and moat-relay, for this machine or CROSS's.
VERSION := 0.1.0
# +git<commits>.<hash>: a later commit sorts later for apt
DEB_VERSION := $(VERSION)+git$(shell git rev-list --count HEAD 2>/dev/null || \
	echo 0).$(shell git rev-parse --short HEAD 2>/dev/null || echo 0)
DEB_ARCH := $(if $(CROSS),$(CROSS_ARCH),$(shell dpkg --print-architecture))
deb: $(INSTALL_BINS:%=$(BUILD)/bin/%) $(BUILD)/bin/moatd \
	$(ROLE_PROGS:%=$(BUILD)/bin/%) $(BPF_OBJS)
	+$(Q)sh tools/make-deb.sh $(BUILD) $(DEB_ARCH) $(DEB_VERSION) $(BUILD)/deb

# What install copies, from a build already made (packages and tests).
install-files:
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)[ "$(abspath $(LIBDIR))" = "$(abspath $(SBINDIR)/../lib)" ] || { \
		echo "make install: LIBDIR=$(LIBDIR) is not SBINDIR/../lib ($(abspath $(SBINDIR)/../lib)): moatd runs moat-sealer and moat-uplink from there; set LIBDIR to it, or SBINDIR next to LIBDIR" >&2; \
		exit 1; }
	$(Q)$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(LIBDIR)/moat/bpf $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/moat
	$(Q)$(INSTALL) -m 0755 $(INSTALL_BINS:%=$(BUILD)/bin/%) $(DESTDIR)$(BINDIR)
	$(Q)$(INSTALL) -m 0755 $(BUILD)/bin/moatd $(DESTDIR)$(SBINDIR)
	$(Q)$(INSTALL) -m 0755 $(ROLE_PROGS:%=$(BUILD)/bin/%) $(DESTDIR)$(LIBDIR)/moat
	$(Q)$(INSTALL) -m 0644 $(BPF_OBJS) $(DESTDIR)$(LIBDIR)/moat/bpf
	$(Q)for u in $(UNITS); do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
			-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			daemon/systemd/$$u.service >$(DESTDIR)$(UNITDIR)/$$u.service && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.service || exit 1; \
	done
	$(Q)$(INSTALL) -m 0644 daemon/systemd/moat.sysusers $(DESTDIR)$(SYSUSERSDIR)/moat.conf
	$(Q)$(INSTALL) -m 0644 daemon/systemd/moat.tmpfiles $(DESTDIR)$(TMPFILESDIR)/moat.conf
	$(Q)$(INSTALL) -m 0644 daemon/moat.conf.example $(DESTDIR)$(DOCDIR)/moat.conf.example
	$(Q)for d in $(DOCS); do [ ! -f $$d ] || \
		$(INSTALL) -m 0644 $$d $(DESTDIR)$(DOCDIR) || exit 1; done
	$(Q)[ -e $(DESTDIR)$(SYSCONFDIR)/moat/moat.conf ] || \
		$(INSTALL) -m 0640 daemon/moat.conf.example \
			$(DESTDIR)$(SYSCONFDIR)/moat/moat.conf

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
