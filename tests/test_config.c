// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat.conf: the example file parses and holds every key at its default;
 * docs/CONFIG.md documents every key; each kind of mistake is refused with
 * a message naming the line, the key and what is allowed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "daemon/config.h"
#include "tests/lib/check.h"

static const char base[] = "[hub]\n[relay]\naddress = 192.0.2.1\n"
			   "[camera a]\nsource = file:/x.h264\n";

/* Parses base + extra; returns the error text ("" when it parsed). */
static const char *try(const char *text, int *ret)
{
	static char err[CFG_ERR_MAX];
	static struct cfg c;

	*ret = cfg_parse("t.conf", text, strlen(text), &c, err);
	return err;
}

static void expect_err(const char *text, const char *want)
{
	int ret;
	const char *err = try(text, &ret);

	CHECK(ret == -EINVAL && strstr(err, want) != NULL,
	      "want `%s' for:\n%s\ngot (%d) `%s'", want, text, ret, err);
}

static void test_example(void)
{
	struct cfg c;

	CHECK(cfg_load(test_src_path("daemon/moat.conf.example"), &c) == 0,
	      "example parses");
	CHECK(c.n_cams == 1 && !strcmp(c.cams[0].name, "front-door") &&
		      c.cams[0].kind == CAM_RTSP &&
		      !strcmp(c.cams[0].source, "rtsp://192.0.2.10/stream1"),
	      "example camera");
	CHECK(c.spool_quota == 1ULL << 30 && c.relay_port == 7443 &&
		      c.cipher == CIPHER_AUTO && c.cams[0].loop &&
		      c.cams[0].record == REC_CONTINUOUS &&
		      c.cams[0].pace == PACE_REALTIME,
	      "example values");
}

struct doc_check {
	char *doc, *example;
	int missing;
};

/* Each key: a row in its docs table, a `key = default' line in the example. */
static void doc_key(void *arg, const char *sect, const char *key,
		    const char *def, const char *help)
{
	struct doc_check *d = arg;
	char row[96], line[320], head[64];
	const char *at;

	snprintf(head, sizeof(head), "## [%s", sect);
	snprintf(row, sizeof(row), "| `%s` | %s%s%s |", key, def[0] ? "`" : "",
		 def[0] ? def : "required", def[0] ? "`" : "");
	at = strstr(d->doc, head);
	if (!at || !strstr(at, row)) {
		d->missing++;
		fprintf(stderr, "docs/CONFIG.md: no row `%s' under [%s]\n", row,
			sect);
	}
	snprintf(line, sizeof(line), "\n%s = %s", key, def);
	if (!strstr(d->example, line)) {
		d->missing++;
		fprintf(stderr, "moat.conf.example: no line `%s = %s'\n", key,
			def);
	}
}

static void test_docs_match(void)
{
	struct doc_check d = { 0 };
	uint8_t *doc = NULL, *ex = NULL;
	size_t n;

	CHECK(file_read_bounded(test_src_path("docs/CONFIG.md"), 1 << 20, &doc,
				&n) == 0,
	      "read docs/CONFIG.md");
	CHECK(file_read_bounded(test_src_path("daemon/moat.conf.example"),
				1 << 20, &ex, &n) == 0,
	      "read example");
	if (doc && ex) {
		d.doc = (char *)doc;
		d.example = (char *)ex;
		cfg_each_key(doc_key, &d);
		CHECK(d.missing == 0, "%d keys undocumented", d.missing);
	}
	free(doc);
	free(ex);
}

static void test_values(void)
{
	char text[512];
	struct cfg c;
	char err[CFG_ERR_MAX];

	snprintf(text, sizeof(text),
		 "%s[hub]\nspool_quota = 512m\ncipher = chacha20-poly1305\n"
		 "[camera b]\nsource = v4l2:/dev/video11\nloop = off\n"
		 "record = events\nmotion_sensitivity = 80\n"
		 "motion_ignore = 0,0,100,20; 70,50,30,50\npreroll = 8\n"
		 "[camera c]\nsource = rtsp://cam/s\n",
		 base);
	CHECK(cfg_parse("t", text, strlen(text), &c, err) == 0, "%s", err);
	CHECK(c.spool_quota == 512ULL << 20 && c.cipher == CIPHER_CHACHA20,
	      "hub values");
	CHECK(c.n_cams == 3 && c.cams[1].kind == CAM_V4L2 &&
		      !strcmp(c.cams[1].source, "/dev/video11") &&
		      !c.cams[1].loop && c.cams[1].record == REC_EVENTS &&
		      c.cams[2].loop,
	      "camera values and per-camera defaults");
	/* libcamera's ids may have spaces; none: the first camera */
	snprintf(text, sizeof(text),
		 "%s[camera m]\nsource = libcamera:platform/vimc.0 Sensor B\n"
		 "[camera n]\nsource = libcamera:\n",
		 base);
	{
		struct cfg l;

		CHECK(cfg_parse("t", text, strlen(text), &l, err) == 0, "%s", err);
		CHECK(l.n_cams == 3 && l.cams[1].kind == CAM_LIBCAMERA &&
			      !strcmp(l.cams[1].source, "platform/vimc.0 Sensor B") &&
			      l.cams[2].kind == CAM_LIBCAMERA && !l.cams[2].source[0],
		      "libcamera: sources, an id with spaces and none");
	}
	CHECK(c.cams[1].motion_sensitivity == 80 &&
		      c.cams[1].n_motion_ignore == 2 &&
		      c.cams[1].motion_ignore[1].x == 70 &&
		      c.cams[1].preroll_s == 8 && c.cams[1].clip_length_s == 10 &&
		      c.cams[2].n_motion_ignore == 0 &&
		      c.cams[2].motion_sensitivity == 50,
	      "event clip values and their defaults");
}

static void test_mistakes(void)
{
	expect_err(
		"[hub]\n[relay]\naddress = h\nport = 99999\n[camera a]\n"
		"source = file:/x\n",
		"t.conf: line 4: [relay] port `99999' is out of range 1-65535");
	expect_err(
		"[hub]\nspol = /x\n",
		"line 2: unknown key `spol' in [hub]; allowed: keys, spool,");
	expect_err(
		"[hub]\ncipher = rot13\n",
		"[hub] cipher `rot13' is not one of: auto, aes-256-gcm, chacha20-poly1305");
	expect_err("[hub]\nkeys = relative/path\n",
		   "[hub] keys `relative/path' is not an absolute path");
	expect_err("[hub]\nspool_quota = 12Q\n", "is not a size like 512M");
	expect_err("[hub]\nspool_quota = 100K\n", "is out of range 1M-1T");
	expect_err("[camera a]\nsource = file:/x\npreroll = 2\n",
		   "[camera] preroll `2' is not a whole number from 5 to 60");
	expect_err("[camera a]\nsource = file:/x\nmotion_ignore = 10,10,95,5\n",
		   "[camera] motion_ignore `10,10,95,5' zone 1 (10,10,95,5) is empty or reaches past the picture");
	expect_err("[hub]\nspool_quota = 99999999999999999999999\n",
		   "is too large");
	expect_err("[hub]\nworker_user = Root\n", "is not a user name");
	expect_err("[hub]\nkeys = /a\nkeys = /b\n",
		   "line 3: [hub] keys is given twice");
	expect_err("[hub]\nkeys =\n", "[hub] keys has no value");
	expect_err("keys = /a\n", "line 1: `keys' is outside any section");
	expect_err("[hubb]\n", "unknown section [hubb]");
	expect_err("[hub\n", "without a closing ]");
	expect_err("[camera a b]\n", "camera name `a b' is not");
	expect_err("[hub]\njust words\n", "expected `key = value'");
	expect_err("[relay]\nport = 1\n[camera x]\nsource = file:/a\n",
		   "line 3: [relay] has no `address'");
	expect_err("[relay]\naddress = h\n[camera x]\npace = fast\n",
		   "[camera x] has no `source'");
	expect_err("[relay]\naddress = h\n[camera x]\nsource = http://a\n",
		   "is not file:/path, rtsp://host/path, v4l2:/dev/videoN or libcamera:[ID]");
	expect_err("[relay]\naddress = h\n[camera x]\nsource = file:/a b\n",
		   "source `file:/a b' has spaces");
	expect_err("[relay]\naddress = h\n[camera x]\nsource = file:/a\n"
		   "[camera x]\n",
		   "line 5: camera `x' is already defined at line 3");
	expect_err("[hub]\n", "no [relay] section");
	expect_err("[relay]\naddress = h\n", "no [camera NAME] section");
	expect_err("[relay]\naddress = bad host\n",
		   "is not a host name or IP address");
}

static void test_limits(void)
{
	static char text[CFG_FILE_MAX + 64];
	size_t i, n;

	memset(text, '#', CFG_LINE_MAX + 1);
	text[CFG_LINE_MAX + 1] = '\n';
	text[CFG_LINE_MAX + 2] = '\0';
	expect_err(text, "line 1: line longer than 1024 bytes");
	n = (size_t)snprintf(text, sizeof(text), "[relay]\naddress = h\n");
	for (i = 0; i <= CFG_MAX_CAMERAS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "[camera c%zu]\nsource = file:/a\n", i);
	expect_err(text, "more than 64 cameras");
	memset(text, '\n', CFG_FILE_MAX + 1);
	text[CFG_FILE_MAX + 1] = '\0';
	expect_err(text, "file is larger than 64 KiB");
}

/* The walk over [hub] camera_interfaces every user of it shares. */
static void test_interfaces(void)
{
	char name[CFG_IFNAME_MAX], seen[128] = "";
	const char *p;

	for (p = "eth1,enx00e04c680001,br-cam"; (p = cfg_next_interface(p, name));)
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "[%s]",
			 name);
	CHECK(!strcmp(seen, "[eth1][enx00e04c680001][br-cam]"),
	      "camera interfaces walked in order, each whole: %s", seen);
	CHECK(!cfg_next_interface("", name) && !cfg_next_interface(NULL, name),
	      "an empty list (none) has no interface");
}

int main(void)
{
	test_example();
	test_interfaces();
	test_docs_match();
	test_values();
	test_mistakes();
	test_limits();
	return test_done("test_config");
}
