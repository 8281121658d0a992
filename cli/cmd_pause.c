/* cli/cmd_pause.c: `hako pause ID`: pause the container's VM (QMP stop). */
#include <errno.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "runtime/state.h"

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	enum state_status status;
	struct state *s;

	if (state_load(cli_root(ctx), a->argv[0], &s, e) < 0)
		return -1;
	status = s->status;
	state_free(s);
	if (status != STATE_RUNNING)
		return err_set(e, EINVAL, "cannot pause a container that is %s",
		               state_status_name(status));
	return vm_control(ctx, a->argv[0], "pause", e);
}

const struct cli_command cli_cmd_pause = {
        .name = "pause",
        .args = "<container-id>",
        .summary = "suspend every process of the container (its VM)",
        .options = NULL,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
