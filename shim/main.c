/* shim/main.c: containerd-shim-hako-v2, the containerd runtime v2 shim:
 * `start` prints the address of the pod's shim, `delete` prints a
 * DeleteResponse, no action serves the task API (see shim/shim.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "shim/shim.h"

int main(int argc, char **argv)
{
	struct shim_args a;
	struct err e;

	log_set_name("containerd-shim-hako-v2");
	if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
		printf("containerd-shim-hako-v2 version %s\n", HAKO_VERSION);
		return 0;
	}
	if (shim_args_parse(argc, argv, &a, &e) < 0) {
		fprintf(stderr, "containerd-shim-hako-v2: %s\n", e.msg);
		return 2;
	}
	if (a.debug)
		log_set_level(LOG_DEBUG);
	if (a.action && !strcmp(a.action, "start")) {
		char addr[SHIM_ADDRESS_MAX];

		if (shim_start(&a, addr, sizeof(addr), &e) < 0)
			goto fail;
		fputs(addr, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (a.action && !strcmp(a.action, "delete")) {
		cleanup_free uint8_t *buf = NULL;
		size_t len;

		if (shim_delete(&a, &buf, &len, &e) < 0)
			goto fail;
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
			return 1;
		return 0;
	}
	if (shim_serve(&a, &e) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "containerd-shim-hako-v2: %s\n", e.msg);
	return 1;
}
