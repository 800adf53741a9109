// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench: measures what moat costs on this machine. Each subcommand is
 * one benchmark; every figure is a median over interleaved runs and every
 * comparison a ratio taken within the same run, because shared machines
 * are noisy.
 */
#include <stdio.h>
#include <string.h>

#include "tools/bench/bench.h"

static const struct bench_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
} cmds[] = {
	{ "seal", bench_seal,
	  "record sealing against OpenSSL's own EVP speed" },
	{ "pipeline", bench_pipeline,
	  "N cameras through moatd to a relay, against TLS 1.3 and SRTP" },
	{ "motion", bench_motion,
	  "motion detection per 1080p30 camera, against a plain decode" },
	{ "uplink", bench_uplink,
	  "the ciphertext gate's cost on the uplink, SEND_ZC and SEND, against sk_msg" },
	{ "encode", bench_encode,
	  "a V4L2 camera through libx264 and the AEAD, stage by stage (--vm: vivid under qemu)" },
	{ "relay", bench_relay,
	  "live fan-out through moat-relay to 1-1000 viewers: CPU, memory, latency" },
	{ "peers", bench_peers,
	  "the clip through memcpy, OpenSSL EVP, moat's seal and age, side by side" },
	{ "report", bench_report,
	  "every benchmark, then a Markdown report with PNG charts (--quick: a minute)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: moat-bench COMMAND [OPTIONS]\n\n"
		   "Measures encrypted video throughput on this machine.\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].what);
	fprintf(f, "\n'moat-bench COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "moat-bench: unknown command `%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
