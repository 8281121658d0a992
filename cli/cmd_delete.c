/* cli/cmd_delete.c: `hako delete [--force] ID`: remove a stopped (or, with
 * --force, any) container: its monitor stops the VM, then the state goes. */
#include <errno.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "lib/log.h"
#include "runtime/state.h"

#define DELETE_WAIT_S 30

enum { O_FORCE = 'f' };

static const struct cli_option options[] = {
        {"force", O_FORCE, NULL, "kill the container first if it is running"},
        {NULL, 0, NULL, NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	const char *id = a->argv[0];
	struct state *s;
	int lock_fd, r = -1;

	if (state_lock(cli_root(ctx), id, &lock_fd, e) < 0)
		return -1;
	if (state_load(cli_root(ctx), id, &s, e) < 0)
		goto unlock;
	if ((s->status == STATE_RUNNING || s->status == STATE_PAUSED) && !cli_has(a, O_FORCE)) {
		err_set(e, EBUSY, "cannot delete container %s that is %s (use --force)", id,
		        state_status_name(s->status));
		goto out;
	}
	if (s->status != STATE_STOPPED) {
		/* created, or forced: the monitor kills what runs and cleans up */
		if (s->status == STATE_PAUSED && vm_control(ctx, id, "resume", e) < 0)
			log_warn("%s", e->msg);
		if (vm_control(ctx, id, "delete", e) < 0 || vm_wait_gone(s, DELETE_WAIT_S, e) < 0)
			goto out;
	}
	vm_cleanup_leftovers(ctx, id);
	r = state_remove(cli_root(ctx), id, e);
out:
	state_free(s);
unlock:
	state_unlock(lock_fd);
	return r;
}

const struct cli_command cli_cmd_delete = {
        .name = "delete",
        .args = "<container-id>",
        .summary = "delete a container and its VM",
        .options = options,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
