/* cli/cmd_ps.c: `hako ps ID`: the container's processes live in its VM and
 * have no host pids; the agent API hako speaks has no call to list them. */
#include <errno.h>

#include "cli/cli.h"
#include "runtime/state.h"

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	struct state *s;

	if (state_load(cli_root(ctx), a->argv[0], &s, e) < 0)
		return -1;
	state_free(s);
	return err_set(e, ENOTSUP,
	               "not supported: ps (the container's processes run in its VM, without "
	               "host pids)");
}

const struct cli_command cli_cmd_ps = {
        .name = "ps",
        .args = "<container-id> [ps options]",
        .summary = "list the container's processes (not supported: they live in its VM)",
        .options = NULL,
        .min_args = 1,
        .max_args = -1,
        .run = run,
};
