// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>

#include "crypto/frame.h"
#include "crypto/streamfile.h"
#include "daemon/ctl.h"
#include "tests/lib/hub.h"
#include "tests/lib/vmhub.h"
#include "tests/lib/vmout.h"

uint8_t *aus_reserve(void *arg, size_t len, size_t pad)
{
	struct aus *a = arg;

	if (a->cap - a->len < len + pad) {
		size_t cap = (a->len + len + pad) * 2;
		uint8_t *p = realloc(a->buf, cap);

		if (!p)
			return NULL;
		a->buf = p;
		a->cap = cap;
	}
	a->reserved = len;
	return a->buf + a->len;
}

int aus_commit(void *arg, size_t len, bool key, uint64_t ts_us)
{
	struct aus *a = arg;

	(void)ts_us;
	if (len > a->reserved)
		return -EINVAL;
	if (a->n < AUS_MAX) {
		a->key_at[a->n] = key;
		a->at[a->n] = a->len;
		a->size[a->n] = len;
	}
	a->keys += key;
	a->len += len;
	a->n++;
	return 0;
}

int aus_decoded(const struct aus *a, int *w, int *h, const uint32_t (*xy)[2],
		int *y_at, size_t n_y)
{
	const AVCodec *c = avcodec_find_decoder(AV_CODEC_ID_H264);
	AVCodecContext *ctx = c ? avcodec_alloc_context3(c) : NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *f = av_frame_alloc();
	int n = 0;

	if (!ctx || !pkt || !f || avcodec_open2(ctx, c, NULL) < 0)
		goto out;
	/* an access unit a packet, then drain */
	for (size_t i = 0; i <= a->n && i <= AUS_MAX; i++) {
		if (i < a->n && i < AUS_MAX) {
			pkt->data = a->buf + a->at[i];
			pkt->size = (int)a->size[i];
		}
		if (avcodec_send_packet(ctx, i < a->n && i < AUS_MAX ? pkt : NULL) < 0)
			break;
		while (avcodec_receive_frame(ctx, f) >= 0) {
			*w = f->width;
			*h = f->height;
			for (size_t k = 0; y_at && k < n_y; k++)
				y_at[k] = xy[k][0] < (uint32_t)f->width &&
						  xy[k][1] < (uint32_t)f->height ?
					f->data[0][(size_t)xy[k][1] * (size_t)f->linesize[0] +
						   xy[k][0]] : -1;
			n++;
		}
	}
out:
	av_frame_free(&f);
	av_packet_free(&pkt);
	avcodec_free_context(&ctx);
	return n;
}

void vm_users(void)
{
	FILE *f;

	mkdir("/etc", 0755);
	f = fopen("/etc/passwd", "w");
	if (f) {
		fputs("root:x:0:0:root:/:/bin/sh\n"
		      "moat-cam:x:990:990::/nonexistent:/bin/false\n"
		      "moat-seal:x:991:991::/nonexistent:/bin/false\n"
		      "moat-up:x:992:992::/nonexistent:/bin/false\n", f);
		fclose(f);
	}
	f = fopen("/etc/group", "w");
	if (f) {
		fputs("root:x:0:\nmoat-cam:x:990:\nmoat-seal:x:991:\nmoat-up:x:992:\n",
		      f);
		fclose(f);
	}
	if (system("ip link set lo up"))
		printf("  (loopback: ip link failed)\n");
}

void vm_hub_start(const char *self, const char *keys, const char *camera,
		  pid_t *relay, pid_t *moatd)
{
	char bin[PATH_MAX], moatd_bin[PATH_MAX + 32], relay_bin[PATH_MAX + 32],
		conf[] = VM_HUB_CONF;
	char *relay_argv[] = { relay_bin, "--dir", "/hub/relay", "--listen",
			       "127.0.0.1:7443", NULL };
	char *moatd_argv[] = { moatd_bin, "--config", conf, NULL };
	FILE *f;

	vm_users();
	snprintf(bin, sizeof(bin), "%s", self);
	*strrchr(bin, '/') = '\0';
	snprintf(moatd_bin, sizeof(moatd_bin), "%s/../bin/moatd", bin);
	snprintf(relay_bin, sizeof(relay_bin), "%s/../bin/moat-relay", bin);
	mkdir("/hub", 0755);
	f = fopen(conf, "w");
	if (f) {
		fprintf(f,
			"[hub]\nkeys = %s\nspool = /hub/spool\ncontrol = %s\npolicy = off\n"
			"[relay]\naddress = 127.0.0.1\nport = 7443\n%s",
			keys, VM_HUB_SOCK, camera);
		fclose(f);
	}
	*relay = spawn_logged(relay_argv, "/hub/relay.log");
	usleep(300000);
	*moatd = spawn_logged(moatd_argv, "/hub/moatd.log");
}

void vm_hub_stop(pid_t relay, pid_t moatd)
{
	kill(moatd, SIGTERM);
	waitpid(moatd, NULL, 0);
	kill(relay, SIGTERM);
	waitpid(relay, NULL, 0);
}

int vm_boot(const char *self, const char *keydir, const char *tag,
	    const char *extra, char *log, size_t len)
{
	const char *src = getenv("MOAT_SRC");
	static char files[8 * PATH_MAX];
	char cmd[4 * PATH_MAX], cache[PATH_MAX], bin[PATH_MAX];
	int st;

	if (!src || !*src)
		src = ".";
	snprintf(files, sizeof(files), "%s ", extra ? extra : "");
	snprintf(cmd, sizeof(cmd), "find '%s/hub' -type f", keydir);
	run_cmd(cmd, files + strlen(files), sizeof(files) - strlen(files));
	for (char *p = files; *p; p++)
		if (*p == '\n')
			*p = ' ';
	/* moatd and the relay run in the VM too */
	snprintf(bin, sizeof(bin), "%s", self);
	*strrchr(bin, '/') = '\0';
	snprintf(files + strlen(files), sizeof(files) - strlen(files),
		 " %s/../bin/moatd %s/../bin/moat-sealer %s/../bin/moat-uplink"
		 " %s/../bin/moat-relay %s/../bin/moatctl",
		 bin, bin, bin, bin, bin);
	setenv("MOAT_VM_FILES", files, 1);
	snprintf(cache, sizeof(cache), "%s/build/vm", src);
	snprintf(log, len, "/tmp/moat-vm-%s-%d.log", tag, (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "'%s/tests/vm/vm.sh' '%s' '%s' '%s' --in-vm '%s/hub'", src,
		 cache, log, self, keydir);
	printf("this kernel has no V4L2: booting Debian's stock kernel under qemu (%s)\n",
	       log);
	fflush(stdout);
	st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 125) {
		printf("the VM did not run the test; its console is in %s\n", log);
		return -1;
	}
	return WEXITSTATUS(st);
}

int64_t vm_status_num(const char *sock, const char *key)
{
	char *st = NULL;
	int64_t v = -1;

	if (!ctl_request(sock, "status json", &st) && st)
		v = json_num(st, NULL, key);
	free(st);
	return v;
}

int64_t vm_wait_for(const char *sock, const char *key, int64_t want,
		    int secs)
{
	int64_t v = -1;

	for (int i = 0; i < secs * 10; i++) {
		v = vm_status_num(sock, key);
		if (v >= want)
			break;
		usleep(100000);
	}
	return v;
}

int vm_export_relay(const char *dir)
{
	char cmd[512], line[512];
	FILE *l;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "find '%s' -type f -name '*.moat' | sort",
		 dir);
	l = popen(cmd, "r");
	while (l && fgets(line, sizeof(line), l)) {
		char name[32];
		size_t len;
		uint8_t *b;

		line[strcspn(line, "\n")] = '\0';
		b = read_all(line, &len);
		snprintf(name, sizeof(name), "relay-%d", n++);
		if (b)
			vmout_put(name, b, len);
		free(b);
	}
	if (l)
		pclose(l);
	return n;
}

/* Every frame the viewer gets from a stream, appended. */
static int collect(void *arg, const struct frame_hdr *f, const uint8_t *p,
		   size_t len)
{
	struct aus *a = arg;
	uint8_t *dst = aus_reserve(a, len, 0);

	if (!dst)
		return -ENOMEM;
	memcpy(dst, p, len);
	return aus_commit(a, len, f->flags & FRAME_F_KEY, f->ts_us);
}

size_t vm_relay_open(const char *log, const struct open_identity *id,
		     struct aus *a, size_t *ok)
{
	size_t streams = 0;

	*ok = 0;
	for (int i = 0; i < 10000; i++) {
		struct sf_result res;
		char name[32];
		size_t len;
		uint8_t *b;

		snprintf(name, sizeof(name), "relay-%d", i);
		b = vmout_get(log, name, &len);
		if (!b)
			break;
		streams++;
		if (sf_open_buf(b, len, id, collect, a, &res) == 0) {
			if (!*ok)
				snprintf(a->codec, sizeof(a->codec), "%s",
					 res.meta.codec);
			else if (strcmp(a->codec, res.meta.codec))
				a->codec_mixed = true;
			++*ok;
		}
		sf_result_free(&res);
		free(b);
	}
	return streams;
}
