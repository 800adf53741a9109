/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * moatd inside a test VM (tests/vm/vm.sh) and what comes out of it, for
 * the tests of local cameras (test_v4l2, test_libcamera): the bare
 * guest's users, moatd's status, the relay's store sent out through the
 * console (tests/lib/vmout.h), and, outside, that store opened as a
 * viewer whose private key never went in.
 */
#ifndef MOAT_TESTS_VMHUB_H
#define MOAT_TESTS_VMHUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct open_identity;

/* Access units one after another, as an encoder's sink or a viewer's
 * frames fill them. */
enum { AUS_MAX = 512 };
struct aus {
	uint8_t *buf;
	size_t len, cap, n, keys;
	bool key_at[AUS_MAX];
	size_t at[AUS_MAX], size[AUS_MAX]; /* each access unit */
	size_t reserved;
	char codec[8];	   /* vm_relay_open(): the streams' META codec */
	bool codec_mixed;  /* ... when they do not all say the same */
};

/* capture/swenc.h's sink into a struct aus (arg). */
uint8_t *aus_reserve(void *arg, size_t len, size_t pad);
int aus_commit(void *arg, size_t len, bool key, uint64_t ts_us);

/* How many pictures libavcodec's H.264 decoder gets from the access
 * units, and the last one's size. y_at, when not NULL, receives the luma
 * of the last picture at the n_y points (x, y) of xy. */
int aus_decoded(const struct aus *a, int *w, int *h, const uint32_t (*xy)[2],
		int *y_at, size_t n_y);

/* In the guest: /etc/passwd and /etc/group with moatd's role users, and
 * loopback up. */
void vm_users(void);

/*
 * On the host: boots tests/vm/vm.sh with self --in-vm KEYDIR/hub (the
 * kernel kept in build/vm of $MOAT_SRC or "."), its console in log
 * (/tmp/moat-vm-TAG-PID.log, len bytes). Into the VM go the hub's key
 * store (KEYDIR/hub; the viewers' keys stay out), moatd, moat-relay and
 * moatctl from beside self's folder, and the files extra names (space
 * separated, or NULL). The guest's exit status, or -1 when the VM did
 * not run the test (said, with where the console is).
 */
int vm_boot(const char *self, const char *keydir, const char *tag,
	    const char *extra, char *log, size_t len);

/* In the guest: moatd's control socket and config while vm_hub_start()
 * runs it. */
#define VM_HUB_SOCK "/hub/ctl.sock"
#define VM_HUB_CONF "/hub/moat.conf"

/*
 * In the guest: the role users, a relay on 127.0.0.1:7443 storing in
 * /hub/relay, and moatd (the programs beside self's folder's ../bin)
 * with the hub keys in keys, no network policy, and the one camera
 * section given ("[camera x]\nsource = ...\n"); their logs are
 * /hub/relay.log and /hub/moatd.log.
 */
void vm_hub_start(const char *self, const char *keys, const char *camera,
		  pid_t *relay, pid_t *moatd);
/* Stops both (SIGTERM), waiting for each. */
void vm_hub_stop(pid_t relay, pid_t moatd);

/* moatd's `status json' number key (its first), or -1; and waiting up
 * to secs until it is at least want (what it last was). */
int64_t vm_status_num(const char *sock, const char *key);
int64_t vm_wait_for(const char *sock, const char *key, int64_t want,
		    int secs);

/* In the guest: every stream in the relay's folder out through the
 * console, as relay-0, relay-1, ...; how many. */
int vm_export_relay(const char *dir);

/* Outside: the relay's streams from the console log, each opened with
 * id; every frame appended to a. How many streams, and *ok of them
 * opened. */
size_t vm_relay_open(const char *log, const struct open_identity *id,
		     struct aus *a, size_t *ok);

#endif
