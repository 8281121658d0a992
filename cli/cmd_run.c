/* cli/cmd_run.c: `hako run --rootfs DIR [options] [ID] -- CMD...`: one
 * container in its own VM, in the foreground (the monitor of cli/vm.h runs
 * in this process); hako exits with the container's exit status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "runtime/spec.h"

enum { O_ROOTFS = CLI_LONG_ONLY, O_RM, O_MEM, O_CPUS, O_READONLY };

static const struct cli_option options[] = {
        {"rootfs", O_ROOTFS, "DIR", "the container's root filesystem (required)"},
        {"rm", O_RM, NULL, "remove the container's state once it exited"},
        {"tty", 't', NULL, "give the process a terminal (implies -i)"},
        {"interactive", 'i', NULL, "pass stdin on to the process"},
        {"mem", O_MEM, "MIB", "guest memory in MiB (default: the configuration's)"},
        {"cpus", O_CPUS, "N", "guest vCPUs (default: the configuration's)"},
        {"read-only", O_READONLY, NULL, "share the root filesystem read-only"},
        {NULL, 0, NULL, NULL},
};

/* [ID] -- CMD...; getopt has eaten a "--" that came first. */
static int split_args(const struct cli_args *a, const char **id, char ***cmd, int *nr_cmd,
                      struct err *e)
{
	int dash = -1;

	for (int i = 0; i < a->argc && dash < 0; i++)
		if (!strcmp(a->argv[i], "--"))
			dash = i;
	*id = NULL;
	if (dash > 1)
		return err_set(e, EINVAL, "run: expected [ID] -- CMD...");
	if (dash == 1)
		*id = a->argv[0];
	*cmd = a->argv + dash + 1;
	*nr_cmd = a->argc - dash - 1;
	if (*nr_cmd <= 0)
		return err_set(e, EINVAL,
		               "run: no command given (hako run --rootfs DIR -- CMD...)");
	return 0;
}

static int parse_uint(const char *what, const char *s, unsigned int *out, struct err *e)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v == 0 || v > 1u << 20)
		return err_set(e, EINVAL, "run: invalid %s '%s'", what, s);
	*out = (unsigned int)v;
	return 0;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	struct vm_opts o = {.ready_fd = -1, .foreground = true};
	char gen_id[32];
	char **cmd = NULL;
	int nr_cmd = 0, status;

	if (split_args(a, &o.id, &cmd, &nr_cmd, e) < 0)
		return -1;
	o.rootfs = cli_get(a, O_ROOTFS);
	if (!o.rootfs)
		return err_set(e, EINVAL, "run: --rootfs DIR is required");
	if (!o.id) {
		snprintf(gen_id, sizeof(gen_id), "run-%d", (int)getpid());
		o.id = gen_id;
	}
	if ((cli_get(a, O_MEM) && parse_uint("--mem", cli_get(a, O_MEM), &o.memory_mib, e) < 0) ||
	    (cli_get(a, O_CPUS) && parse_uint("--cpus", cli_get(a, O_CPUS), &o.vcpus, e) < 0))
		return -1;
	o.tty = cli_has(a, 't');
	o.stdin_open = o.tty || cli_has(a, 'i');
	o.readonly = cli_has(a, O_READONLY);
	o.rm = cli_has(a, O_RM);
	if (spec_for_command(cmd, (size_t)nr_cmd, o.tty, &o.spec, e) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	status = vm_monitor(ctx, &o, e);
	spec_free(o.spec);
	if (status < 0)
		return -1;
	/* the agent reports what the process's parent would see as $? */
	return status > 255 ? 255 : status;
}

const struct cli_command cli_cmd_run = {
        .name = "run",
        .args = "[<container-id>] -- <command> [args...]",
        .summary = "run a command in a new container in its own VM, in the foreground",
        .options = options,
        .min_args = 1,
        .max_args = -1,
        .run = run,
};
