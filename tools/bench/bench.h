/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared parts of moat-bench: CPU-time clocks, medians, machine facts, and
 * the subcommands' entry points.
 */
#ifndef MOAT_TOOLS_BENCH_H
#define MOAT_TOOLS_BENCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct bench_machine {
	char cpu[128];
	char kernel[200];
	char openssl[64];
	int cpus;
	int aes; /* CPU has AES instructions */
};

/* Seconds of CPU time used by this thread (immune to being preempted). */
double bench_cpu_now(void);
/* Set by a command's Ctrl-C handler: long loops (the paced TLS
 * baseline) stop early, and their result is not used. */
extern volatile sig_atomic_t bench_stop;
/* CPU seconds (user + system) process pid has used so far; 0 if gone. */
double bench_proc_cpu(pid_t pid);
/* Median of n values (sorts a copy). */
double bench_median(const double *v, size_t n);
void bench_machine(struct bench_machine *m);
void bench_machine_print(FILE *f, const struct bench_machine *m);
void bench_machine_json(FILE *f, const struct bench_machine *m);
/* Parses "1k", "64K", "1m", "4096": bytes, or 0 if invalid. */
size_t bench_parse_size(const char *s);
/* "16 KiB", "1 MiB", "512 B" into buf. */
const char *bench_size_str(size_t n, char *buf, size_t cap);

struct annexb_au;

/*
 * TLS 1.3 with cipher (e.g. "TLS_AES_256_GCM_SHA384") over a loopback TCP
 * connection in this process: the access units, one SSL_write each, in a
 * loop until total bytes, fps frames a second (0: flat out). The sending
 * and receiving threads' CPU seconds; 0 or -1.
 */
int bench_tls_run(const struct annexb_au *au, size_t n_au, double total,
		  double fps, const char *cipher, double *cpu_send,
		  double *cpu_recv);
/* gst-launch-1.0 filesrc path ! h264parse ! rtph264pay ! srtpenc
 * (AES-256-GCM) ! udpsink on loopback: its CPU seconds, or -1. */
double bench_srtp_file(const char *path);

/* The 1080p30 8 Mb/s test clip at path, made with libx264 if missing. */
int bench_make_clip(const char *path);

int bench_seal(int argc, char **argv);
int bench_pipeline(int argc, char **argv);
int bench_motion(int argc, char **argv);
int bench_uplink(int argc, char **argv);
int bench_encode(int argc, char **argv);
int bench_relay(int argc, char **argv);
int bench_peers(int argc, char **argv);
int bench_report(int argc, char **argv);

#endif
