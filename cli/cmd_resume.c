/* cli/cmd_resume.c: `hako resume ID`: resume the container's VM (QMP cont). */
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
	if (status != STATE_PAUSED)
		return err_set(e, EINVAL, "cannot resume a container that is %s",
		               state_status_name(status));
	return vm_control(ctx, a->argv[0], "resume", e);
}

const struct cli_command cli_cmd_resume = {
        .name = "resume",
        .args = "<container-id>",
        .summary = "resume a paused container",
        .options = NULL,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
