/* cli/cmd_ps.c: `hako ps [--format json] ID`: the container's processes live
 * in its VM without host pids; the host process that stands for them is the
 * container's pid (its monitor), which `--format json` lists as runc does
 * its processes' pids. runc's table (host `ps` output) is not supported. */
#include <errno.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/state.h"

enum { O_FORMAT = 'f' };

static const struct cli_option options[] = {
        {"format", O_FORMAT, "FORMAT", "json: [the container's pid] (table: not supported)"},
        {NULL, 0, NULL, NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	const char *format = cli_get(a, O_FORMAT) ? cli_get(a, O_FORMAT) : "table";
	enum state_status status;
	struct state *s;
	pid_t pid;

	if (strcmp(format, "json") && strcmp(format, "table"))
		return err_set(e, EINVAL, "ps: --format: \"%s\" is not table or json", format);
	if (state_load(cli_root(ctx), a->argv[0], &s, e) < 0)
		return -1;
	status = s->status;
	pid = s->pid;
	state_free(s);
	if (status == STATE_STOPPED)
		return err_set(e, EINVAL, "container %s is not running", a->argv[0]);
	if (strcmp(format, "json"))
		return err_set(e, ENOTSUP,
		               "not supported: ps --format table (the container's processes run "
		               "in its VM, without host pids; --format json lists its pid)");
	fprintf(ctx->out, "[%d]\n", (int)pid);
	return 0;
}

const struct cli_command cli_cmd_ps = {
        .name = "ps",
        .args = "<container-id>",
        .summary = "list the container's host pid (its processes live in its VM)",
        .options = options,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
