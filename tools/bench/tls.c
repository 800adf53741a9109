// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS 1.3 over loopback for moat-bench's comparisons (pipeline, peers):
 * OpenSSL on both ends of a TCP connection over 127.0.0.1 in one process,
 * a self-signed Ed25519 certificate made once, one SSL_write per access
 * unit, the sending and the receiving thread timed in thread CPU time.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture/annexb.h"
#include "tools/bench/bench.h"

struct tls_side {
	int fd;
	SSL_CTX *ctx;
	double cpu;
	uint64_t bytes;
};

static EVP_PKEY *tls_key;
static X509 *tls_cert;

static int tls_identity(void)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);

	if (!pc || EVP_PKEY_keygen_init(pc) <= 0 ||
	    EVP_PKEY_keygen(pc, &tls_key) <= 0) {
		EVP_PKEY_CTX_free(pc);
		return -1;
	}
	EVP_PKEY_CTX_free(pc);
	tls_cert = X509_new();
	X509_set_version(tls_cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(tls_cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(tls_cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(tls_cert), 3600);
	X509_set_pubkey(tls_cert, tls_key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(tls_cert), "CN",
				   MBSTRING_ASC, (const unsigned char *)"relay",
				   -1, -1, 0);
	X509_set_issuer_name(tls_cert, X509_get_subject_name(tls_cert));
	return X509_sign(tls_cert, tls_key, NULL) > 0 ? 0 : -1;
}

static void *tls_server(void *arg)
{
	struct tls_side *s = arg;
	SSL *ssl = SSL_new(s->ctx);
	uint8_t buf[1 << 16];
	double c0 = bench_cpu_now();
	int n;

	SSL_set_fd(ssl, s->fd);
	if (SSL_accept(ssl) == 1)
		while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
			s->bytes += (uint64_t)n;
	s->cpu = bench_cpu_now() - c0;
	SSL_free(ssl);
	return NULL;
}

/*
 * A connected TCP pair over 127.0.0.1, as moat's uplink and relay are:
 * on loopback the sender's CPU time includes the receive path, so an
 * AF_UNIX pair would flatter TLS.
 */
static int tcp_pair(int sv[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sv[0] = sv[1] = -1;
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		goto fail;
	sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (sv[1] < 0)
		goto fail;
	setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
	return 0;
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	close(l);
	return -1;
}

int bench_tls_run(const struct annexb_au *au, size_t n_au, double total,
		   double fps, const char *cipher, double *cpu_send,
		   double *cpu_recv)
{
	struct tls_side srv = { 0 };
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	int sv[2];
	pthread_t th;
	SSL *ssl;
	double c0, sent = 0;
	int ret = -1;

	srv.ctx = SSL_CTX_new(TLS_server_method());
	if (!tls_cert && tls_identity())
		return -1;
	if (!cctx || !srv.ctx || tcp_pair(sv)) {
		SSL_CTX_free(cctx);
		SSL_CTX_free(srv.ctx);
		return -1;
	}
	SSL_CTX_set_min_proto_version(srv.ctx, TLS1_3_VERSION);
	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	SSL_CTX_set_ciphersuites(cctx, cipher);
	SSL_CTX_set_ciphersuites(srv.ctx, cipher);
	SSL_CTX_use_certificate(srv.ctx, tls_cert);
	SSL_CTX_use_PrivateKey(srv.ctx, tls_key);
	srv.fd = sv[1];
	pthread_create(&th, NULL, tls_server, &srv);
	ssl = SSL_new(cctx);
	SSL_set_fd(ssl, sv[0]);
	if (SSL_connect(ssl) == 1) {
		struct timespec due;

		clock_gettime(CLOCK_MONOTONIC, &due);
		c0 = bench_cpu_now();
		for (size_t i = 0; sent < total && !bench_stop;
		     i = (i + 1) % n_au) {
			if (fps > 0) {
				/* paced: each frame when a camera would give it */
				due.tv_nsec += (long)(1e9 / fps);
				while (due.tv_nsec >= 1000000000L) {
					due.tv_nsec -= 1000000000L;
					due.tv_sec++;
				}
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
						&due, NULL);
			}
			if (SSL_write(ssl, au[i].p, (int)au[i].len) <= 0)
				break;
			sent += (double)au[i].len;
		}
		*cpu_send = bench_cpu_now() - c0;
		ret = sent >= total ? 0 : -1;
		SSL_shutdown(ssl);
	}
	shutdown(sv[0], SHUT_WR);
	pthread_join(th, NULL);
	*cpu_recv = srv.cpu;
	SSL_free(ssl);
	close(sv[0]);
	close(sv[1]);
	SSL_CTX_free(cctx);
	SSL_CTX_free(srv.ctx);
	return ret;
}
