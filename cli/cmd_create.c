/* cli/cmd_create.c: `hako create [--bundle DIR] [--pid-file F] ID`: boot the
 * container's VM and create the container in it, not started. A monitor
 * process forked here owns the VM from now (its pid is the container's
 * pid), keeps the stdio given to create for the container, and is told
 * what to do through its control socket. */
#include <errno.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "runtime/bundle.h"
#include "runtime/spec.h"

enum { O_BUNDLE = 'b', O_PID_FILE = CLI_LONG_ONLY, O_CONSOLE, O_NO_PIVOT, O_NO_NEW_KEYRING };

static const struct cli_option options[] = {
        {"bundle", O_BUNDLE, "DIR", "the OCI bundle (default: the current directory)"},
        {"pid-file", O_PID_FILE, "FILE", "write the container's pid (its monitor's) to FILE"},
        {"console-socket", O_CONSOLE, "SOCKET",
         "send the master of the container's terminal to this unix socket"},
        {"no-pivot", O_NO_PIVOT, NULL, "accepted for runc compatibility; no effect"},
        {"no-new-keyring", O_NO_NEW_KEYRING, NULL, "accepted for runc compatibility; no effect"},
        {NULL, 0, NULL, NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	struct vm_opts o = {.foreground = false};
	const char *dir = cli_get(a, O_BUNDLE) ? cli_get(a, O_BUNDLE) : ".";
	struct bundle *b = NULL;
	struct json_object *term;
	int r = -1;

	o.id = a->argv[0];
	if (bundle_load(dir, &b, e) < 0)
		return -1;
	if (b->kind == BUNDLE_CONTAINER) {
		err_set(e, ENOTSUP, "not supported: joining the pod sandbox %s",
		        bundle_sandbox_id(b) ? bundle_sandbox_id(b) : "?");
		goto out;
	}
	o.tty = json_object_object_get_ex(b->spec, "process", &term) &&
	        json_object_object_get_ex(term, "terminal", &term) && json_object_get_boolean(term);
	o.stdin_open = true; /* /dev/null reads as EOF at once, as with runc */
	if (o.tty != !!cli_get(a, O_CONSOLE)) {
		err_set(e, EINVAL, "%s",
		        o.tty ? "process.terminal needs --console-socket"
		              : "--console-socket needs process.terminal");
		goto out;
	}
	if (spec_from_json_object(b->spec, &o.spec, e) < 0)
		goto out;
	o.bundle = b->dir;
	o.rootfs = b->rootfs;
	o.readonly = b->readonly;
	o.pid_file = cli_get(a, O_PID_FILE);
	r = vm_spawn(ctx, &o, cli_get(a, O_CONSOLE), e) < 0 ? -1 : 0;
out:
	spec_free(o.spec);
	bundle_free(b);
	return r;
}

const struct cli_command cli_cmd_create = {
        .name = "create",
        .args = "<container-id>",
        .summary = "create a container (boot its VM) without starting its process",
        .options = options,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
