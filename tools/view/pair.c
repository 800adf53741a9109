// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-view pair CODE: pairs this viewer with a hub over the LAN
 * (crypto/pair.h). The code names the hub (its key's fingerprint), holds
 * the pairing secret and says where the hub listens. Nothing is written
 * until the hub has proven it holds the secret, this viewer has proven
 * the same, and the hub has said it saved the viewer: a wrong code, a
 * typo or another machine at that address leaves no file behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hex.h"
#include "crypto/keystore.h"
#include "crypto/pair.h"
#include "tools/view/view.h"

enum { PAIR_WAIT_S = 15 };

static int dial(const struct pair_code *c, const char *where)
{
	struct sockaddr_storage ss = { 0 };
	struct timeval tv = { .tv_sec = PAIR_WAIT_S };
	socklen_t sl;
	int fd;

	if (c->family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, c->addr, 16);
		a->sin6_port = htons(c->port);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, c->addr, 4);
		a->sin_port = htons(c->port);
		sl = sizeof(*a);
	}
	fd = socket(c->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* SO_SNDTIMEO bounds connect() too */
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&ss, sl)) {
		fprintf(stderr, "moat-view: pair: cannot reach the hub at %s: %s (is `moatctl pair' still waiting, and is this machine on the hub's LAN?)\n",
			where, strerror(errno == EINPROGRESS ? ETIMEDOUT : errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int view_new_identity(const char *name, struct ks_identity *id)
{
	int ret = login_keygen(&id->login);

	if (!ret && (RAND_bytes(id->viewer_id, sizeof(id->viewer_id)) != 1))
		ret = -MOAT_E_CRYPTO;
	snprintf(id->name, sizeof(id->name), "%s", name);
	if (!ret)
		ret = ks_identity_new_key(id);
	return ret;
}

static const char *code_error(int err)
{
	switch (-err) {
	case MOAT_E_VERSION:
		return "it is not a moat pairing code (they start with moat1-)";
	case MOAT_E_CORRUPT:
		return "it has a typo (its check does not match): type it again, or scan the QR code";
	default:
		return "it is cut short, too long or has a character no code has";
	}
}

int cmd_pair_code(const char *text, const char *out, const char *name,
		  bool json)
{
	uint8_t m1[PAIR_MSG_MAX], m2[PAIR_MSG_MAX], m[PAIR_MSG_MAX];
	uint8_t id_of_hub[PAIR_ID_LEN];
	char where[INET6_ADDRSTRLEN + 8], why[PAIR_ERROR_MAX + 1], hex[33];
	struct pair_code code;
	struct pair_hello hello = { 0 };
	struct pair_reply reply;
	struct pair_keys keys = { 0 };
	struct ks_identity id = { 0 };
	struct stat sb;
	bool approved = false;
	size_t n1;
	long n;
	int fd = -1, ret, status = 1;

	ret = pair_code_parse(text, &code);
	if (ret) {
		fprintf(stderr, "moat-view: pair: that code is not right: %s\n",
			code_error(ret));
		return 2;
	}
	inet_ntop(code.family, code.addr, where, INET6_ADDRSTRLEN);
	snprintf(where + strlen(where), 8, ":%u", (unsigned int)code.port);
	if (strlen(name) < 1 || strlen(name) > PAIR_NAME_MAX ||
	    strpbrk(name, "\"\\")) {
		fprintf(stderr, "moat-view: pair: --name must be 1 to %d characters, without quotes or backslashes\n",
			PAIR_NAME_MAX);
		goto out;
	}
	if (!stat(out, &sb) || errno != ENOENT) {
		fprintf(stderr, "moat-view: pair: %s exists; an identity is never replaced (choose another --out)\n",
			out);
		goto out;
	}
	ret = view_new_identity(name, &id);
	if (ret) {
		fprintf(stderr, "moat-view: pair: cannot make keys: %s\n",
			moat_strerror(ret));
		goto out;
	}
	fd = dial(&code, where);
	if (fd < 0)
		goto out;

	memcpy(hello.hub_id, code.hub_id, PAIR_ID_LEN);
	memcpy(hello.viewer_pk, id.keys[id.n_keys - 1].pk, PAIR_KEY_LEN);
	memcpy(hello.login_pk, id.login.pk, PAIR_KEY_LEN);
	memcpy(hello.viewer_id, id.viewer_id, PAIR_ID_LEN);
	snprintf(hello.name, sizeof(hello.name), "%s", name);
	if (RAND_bytes(hello.nonce, sizeof(hello.nonce)) != 1)
		goto out;
	n1 = pair_hello_put(&hello, m1);
	if (pair_send(fd, m1, n1)) {
		fprintf(stderr, "moat-view: pair: the hub at %s closed the connection\n",
			where);
		goto out;
	}
	n = pair_recv(fd, m2);
	if (n > 0 && pair_end_parse(m2, (size_t)n, &approved, why) ==
			     -MOAT_E_AUTH) {
		fprintf(stderr, "moat-view: pair: the hub refused: %s; nothing was saved\n",
			why);
		goto out;
	}
	if (n < 0 || pair_reply_parse(m2, (size_t)n, &reply)) {
		fprintf(stderr, "moat-view: pair: %s did not answer as a moat hub (%s); nothing was saved\n",
			where, n < 0 ? moat_strerror((int)n) : "not a pairing reply");
		goto out;
	}
	/* the key is the one the code names, or nothing else counts */
	seal_key_id(reply.hub_pk, id_of_hub);
	if (memcmp(id_of_hub, code.hub_id, PAIR_ID_LEN)) {
		fprintf(stderr, "moat-view: pair: the machine at %s is not the hub of this code (its key's fingerprint differs); nothing was saved\n",
			where);
		goto out;
	}
	ret = pair_derive(code.secret, m1, n1, m2, (size_t)n, &keys);
	{
		uint8_t want[PAIR_MAC_LEN];

		if (!ret)
			ret = pair_mac(&keys, "hub", want);
		if (!ret && !pair_mac_ok(want, reply.mac)) {
			fprintf(stderr, "moat-view: pair: the hub at %s does not hold this code's secret: the code is wrong or old (each works once; run `moatctl pair' again); nothing was saved\n",
				where);
			goto out;
		}
	}
	{
		uint8_t mac[PAIR_MAC_LEN];

		if (!ret)
			ret = pair_mac(&keys, "viewer", mac);
		if (!ret)
			ret = pair_send(fd, m, pair_confirm_put(mac, m));
	}
	if (ret) {
		fprintf(stderr, "moat-view: pair: the hub at %s went away; nothing was saved\n",
			where);
		goto out;
	}
	n = pair_recv(fd, m);
	ret = n > 0 ? pair_end_parse(m, (size_t)n, &approved, why) : (int)n;
	if (ret == -MOAT_E_AUTH) {
		fprintf(stderr, "moat-view: pair: the hub refused: %s; nothing was saved\n",
			why);
		goto out;
	}
	if (ret) {
		fprintf(stderr, "moat-view: pair: the hub at %s did not say it saved this viewer (%s); nothing was saved here: if `moatctl viewers list' shows %s, remove it and pair again\n",
			where, moat_strerror(ret), name);
		goto out;
	}
	memcpy(id.hub_pk, reply.hub_pk, SEAL_KEY_LEN);
	memcpy(id.hub_login_pk, reply.hub_login_pk, LOGIN_KEY_LEN);
	ret = pair_psk(&keys, id.psk);
	if (!ret)
		ret = ks_identity_create(out, &id);
	if (ret) {
		fprintf(stderr, "moat-view: pair: paired, but cannot write %s: %s; remove `%s' on the hub (moatctl viewers remove) and pair again\n",
			out, moat_strerror(ret), name);
		goto out;
	}
	hex_encode(hex, id.viewer_id, 16);
	if (json)
		printf("{\"paired\": true, \"name\": \"%s\", \"id\": \"%s\", \"state\": \"%s\", \"identity\": \"%s\", \"hub\": \"%s\"}\n",
		       name, hex, approved ? "approved" : "pending", out, where);
	else if (approved)
		printf("paired with the hub at %s as %s (%s): identity in %s; the hub seals new streams to it\n",
		       where, name, hex, out);
	else
		printf("paired with the hub at %s as %s (%s): identity in %s; pending until the owner runs `moatctl viewers approve %s' on the hub\n",
		       where, name, hex, out, name);
	status = 0;
out:
	if (fd >= 0)
		close(fd);
	pair_keys_wipe(&keys);
	ks_identity_wipe(&id);
	OPENSSL_cleanse(&code, sizeof(code));
	OPENSSL_cleanse(m, sizeof(m));
	return status;
}
