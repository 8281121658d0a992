/* cli/cmd_kill.c: `hako kill [--all] ID [SIGNAL]`: signal the container's
 * process (default SIGTERM). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "runtime/state.h"

enum { O_ALL = 'a' };

static const struct cli_option options[] = {
        {"all", O_ALL, NULL, "accepted; the signal goes to the init only (KILL ends all)"},
        {NULL, 0, NULL, NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	int sig = a->argc > 1 ? vm_parse_signal(a->argv[1], e) : SIGTERM;
	enum state_status status;
	struct state *s;
	char cmd[32];

	if (sig < 0)
		return -1;
	if (state_load(cli_root(ctx), a->argv[0], &s, e) < 0)
		return -1;
	status = s->status;
	state_free(s);
	if (status == STATE_STOPPED)
		return err_set(e, ESRCH, "container %s is not running", a->argv[0]);
	snprintf(cmd, sizeof(cmd), "%s %d", cli_has(a, O_ALL) ? "kill-all" : "kill", sig);
	return vm_control(ctx, a->argv[0], cmd, e);
}

const struct cli_command cli_cmd_kill = {
        .name = "kill",
        .args = "<container-id> [signal]",
        .summary = "send a signal (name or number; default SIGTERM) to the container's process",
        .options = options,
        .min_args = 1,
        .max_args = 2,
        .run = run,
};
