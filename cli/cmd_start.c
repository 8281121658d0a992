/* cli/cmd_start.c: `hako start ID`: start a created container's process. */
#include <errno.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "runtime/state.h"

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	struct state *s;
	enum state_status status;

	if (state_load(cli_root(ctx), a->argv[0], &s, e) < 0)
		return -1;
	status = s->status;
	state_free(s);
	if (status != STATE_CREATED)
		return err_set(e, EINVAL, "cannot start a container that is %s",
		               state_status_name(status));
	return vm_control(ctx, a->argv[0], "start", e);
}

const struct cli_command cli_cmd_start = {
        .name = "start",
        .args = "<container-id>",
        .summary = "start the process of a created container",
        .options = NULL,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
