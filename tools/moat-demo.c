// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-demo: the embedded default of `make demo`.
 *   moat-demo [options] [CLIP]   the whole hub with real processes
 *   moat-demo offline [...]      the sealing core alone (tools/demo/offline.c)
 */
#include <string.h>

#include "tools/demo/demo.h"

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "offline"))
		return demo_offline_main(argc - 1, argv + 1);
	return demo_pipeline_main(argc, argv);
}
