/* cli/cmd_spec.c: `hako spec`: write a default config.json to start a bundle from. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/util.h"
#include "runtime/bundle.h"

enum { OPT_ROOTLESS = CLI_LONG_ONLY };

static const struct cli_option options[] = {
        {"bundle", 'b', "DIR", "write DIR/config.json (default: the current directory)"},
        {"rootless", OPT_ROOTLESS, NULL, "not supported: hako's containers run in a VM"},
        {NULL, 0, NULL, NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *args, struct err *e)
{
	const char *dir = cli_get(args, 'b');
	cleanup_free char *json = NULL;
	cleanup_close int fd = -1;
	char path[PATH_MAX];

	(void)ctx;
	if (cli_has(args, OPT_ROOTLESS))
		return err_set(e, ENOTSUP,
		               "spec: not supported: --rootless (hako runs containers "
		               "inside a VM and needs /dev/kvm or qemu, not a rootless "
		               "spec)");
	if (!dir)
		dir = ".";
	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", dir) >= sizeof(path))
		return err_set(e, ENAMETOOLONG, "spec: path too long: %s", dir);
	if (bundle_default_spec(&json, e) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			return err_set(e, EEXIST, "spec: %s already exists: remove it first", path);
		return err_sys(e, "spec: create %s", path);
	}
	if (util_write_all(fd, json, strlen(json)) < 0 || util_write_all(fd, "\n", 1) < 0)
		return err_sys(e, "spec: write %s", path);
	return 0;
}

const struct cli_command cli_cmd_spec = {
        .name = "spec",
        .args = NULL,
        .summary = "write a default OCI config.json (runc's spec, for hako)",
        .options = options,
        .min_args = 0,
        .max_args = 0,
        .run = run,
};
