// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-sealer: the hub's sealer as a program of its own. Only moatd starts
 * it (daemon/handoff.h); it links libcrypto, liburing and libseccomp and
 * none of the camera, codec and policy libraries moatd has (SANDBOX.md).
 */
#include <errno.h>

#include "daemon/handoff.h"
#include "daemon/roles.h"

int main(int argc, char **argv)
{
	struct handoff *h;

	int ret = handoff_take(argc, argv, ROLE_SEALER, &h);

	if (ret)
		return ret == -EPROTO ? HANDOFF_REFUSED : 2;
	return sealer_main(&h->io.sealer);
}
