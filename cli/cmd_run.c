/* cli/cmd_run.c: one container in its own VM, in the foreground (the
 * monitor of cli/vm.h runs in this process; hako exits with the
 * container's exit status), or with -d detached (create + start). Forms:
 * `hako run --rootfs DIR [options] [ID] -- CMD...` (a default spec running
 * CMD), `hako run --image OCI.tar [ID] [-- CMD...]` (the image unpacked
 * under the state root, its config's defaults), and runc's `hako run
 * [--bundle DIR] [--pid-file F] ID` (the bundle's config.json). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/bundle.h"
#include "runtime/image.h"
#include "runtime/spec.h"
#include "runtime/state.h"

enum {
	O_ROOTFS = CLI_LONG_ONLY,
	O_RM,
	O_MEM,
	O_CPUS,
	O_READONLY,
	O_PID_FILE,
	O_CONSOLE,
	O_NO_PIVOT,
	O_NO_NEW_KEYRING,
	O_IMAGE,
	O_BUNDLE = 'b',
	O_DETACH = 'd',
};

static const struct cli_option options[] = {
        {"rootfs", O_ROOTFS, "DIR", "the root filesystem (its form: the command after --)"},
        {"image", O_IMAGE, "TAR", "an OCI image archive as the rootfs (its config: defaults)"},
        {"rm", O_RM, NULL, "remove the container's state once it exited (also with -d)"},
        {"tty", 't', NULL, "give the process a terminal (implies -i)"},
        {"interactive", 'i', NULL, "pass stdin on to the process"},
        {"mem", O_MEM, "MIB", "guest memory in MiB (default: the configuration's)"},
        {"cpus", O_CPUS, "N", "guest vCPUs (default: the configuration's)"},
        {"read-only", O_READONLY, NULL, "share the root filesystem read-only"},
        {"bundle", O_BUNDLE, "DIR", "runc form: run the OCI bundle DIR (default: .)"},
        {"pid-file", O_PID_FILE, "FILE", "write the container's pid (hako's) to FILE"},
        {"detach", O_DETACH, NULL, "return once it runs (its monitor is its pid; see docs)"},
        {"console-socket", O_CONSOLE, "SOCKET", "with -d -t: send the pty master to SOCKET"},
        {"no-pivot", O_NO_PIVOT, NULL, "accepted for runc compatibility; no effect"},
        {"no-new-keyring", O_NO_NEW_KEYRING, NULL, "accepted for runc compatibility; no effect"},
        {NULL, 0, NULL, NULL},
};

/* [ID] -- CMD...; getopt has eaten a "--" that came first. With an image
 * the command may be empty (its config's then). */
static int split_args(const struct cli_args *a, bool image, const char **id, char ***cmd,
                      int *nr_cmd, struct err *e)
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
	if (*nr_cmd <= 0 && !image)
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

/* runc's form: the bundle's process; a terminal if its spec asks. */
static int bundle_opts(const struct cli_args *a, struct vm_opts *o, struct bundle **b,
                       struct err *e)
{
	struct json_object *term;

	if (a->argc != 1)
		return err_set(e, EINVAL,
		               "run: expected one container id (or --rootfs DIR -- CMD)");
	o->id = a->argv[0];
	if (bundle_load(cli_get(a, O_BUNDLE) ? cli_get(a, O_BUNDLE) : ".", b, e) < 0)
		return -1;
	if ((*b)->kind == BUNDLE_CONTAINER)
		return err_set(e, ENOTSUP, "not supported: joining the pod sandbox %s",
		               bundle_sandbox_id(*b) ? bundle_sandbox_id(*b) : "?");
	o->bundle = (*b)->dir;
	o->rootfs = (*b)->rootfs;
	o->readonly = (*b)->readonly;
	o->tty = json_object_object_get_ex((*b)->spec, "process", &term) &&
	         json_object_object_get_ex(term, "terminal", &term) &&
	         json_object_get_boolean(term);
	o->stdin_open = true;
	return spec_from_json_object((*b)->spec, &o->spec, e);
}

/* The image's Env over the default spec's (same name: the image's). */
static int image_env(Grpc__Process *p, char **env, struct err *e)
{
	size_t n = 0, k = 0;
	char **all;

	while (env && env[n])
		n++;
	all = calloc(p->n_env + n, sizeof(*all));
	if (!all)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n_env; i++) {
		const char *eq = strchr(p->env[i], '=');
		size_t len = eq ? (size_t)(eq - p->env[i]) + 1 : strlen(p->env[i]);
		bool over = false;

		for (size_t j = 0; j < n && !over; j++)
			over = !strncmp(env[j], p->env[i], len);
		if (over)
			free(p->env[i]);
		else
			all[k++] = p->env[i];
	}
	for (size_t j = 0; j < n; j++)
		if (!(all[k++] = strdup(env[j]))) {
			p->n_env = k - 1;
			free(p->env);
			p->env = all;
			return err_set(e, ENOMEM, "out of memory");
		}
	free(p->env);
	p->env = all;
	p->n_env = k;
	return 0;
}

/* The image config's WorkingDir, User (numeric uid[:gid] only) and Env. */
static int image_process(Grpc__Process *p, const struct image_config *ic, struct err *e)
{
	if (ic->cwd) {
		char *cwd = strdup(ic->cwd);

		if (!cwd)
			return err_set(e, ENOMEM, "out of memory");
		if (p->cwd != protobuf_c_empty_string)
			free(p->cwd);
		p->cwd = cwd;
	}
	if (ic->user) {
		unsigned int uid, gid = 0;
		int end = 0;

		if (!p->user ||
		    !((sscanf(ic->user, "%u%n", &uid, &end) == 1 && !ic->user[end]) ||
		      (sscanf(ic->user, "%u:%u%n", &uid, &gid, &end) == 2 && !ic->user[end])))
			return err_set(e, ENOTSUP,
			               "not supported: image user '%s' (only a numeric uid[:gid])",
			               ic->user);
		p->user->uid = uid;
		p->user->gid = gid;
	}
	return image_env(p, ic->env, e);
}

/* Unpack --image into <root>/.image-XXXXXX (image_dir, which the monitor
 * moves into the state); its Entrypoint + (cmd, or its Cmd) is the
 * process. */
static int image_spec(const struct cli_ctx *ctx, const char *archive, char **cmd, int nr_cmd,
                      bool tty, struct vm_opts *o, char *image_dir, size_t size, struct err *e)
{
	struct image_config ic = {0};
	sigset_t stop, saved, pending;
	char **argv = NULL;
	int r = -1, unpacked;
	size_t n = 0;

	if (util_mkdir_p(cli_root(ctx), 0711, e) < 0)
		return err_ctx(e, "state root");
	if ((size_t)snprintf(image_dir, size, "%s/.image-XXXXXX", cli_root(ctx)) >= size)
		return err_set(e, ENAMETOOLONG, "state root path too long");
	if (!mkdtemp(image_dir)) {
		err_sys(e, "mkdtemp %s", image_dir);
		image_dir[0] = 0;
		return -1;
	}
	/* a ^C while tar unpacks must not leave the directory behind: the
	 * signals wait (tar inherits that) and fail the run once it is done */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGQUIT);
	sigprocmask(SIG_BLOCK, &stop, &saved);
	unpacked = image_unpack(archive, image_dir, &ic, e);
	sigpending(&pending);
	for (int sig = 1; sig < NSIG && unpacked == 0; sig++)
		if (sigismember(&stop, sig) && sigismember(&pending, sig))
			unpacked = err_set(e, EINTR, "run: interrupted by signal %d", sig);
	if (unpacked < 0)
		goto out; /* the caller removes the directory; hako exits 1 */
	sigprocmask(SIG_SETMASK, &saved, NULL);
	argv = calloc(1, sizeof(char *));
	for (char **v = ic.entrypoint; argv && v && *v; v++) {
		char **nv = realloc(argv, (n + 2) * sizeof(char *));

		if (!nv)
			goto nomem;
		argv = nv;
		argv[n++] = *v;
	}
	for (int i = 0; argv && i < (nr_cmd > 0 ? nr_cmd : 0); i++) {
		char **nv = realloc(argv, (n + 2) * sizeof(char *));

		if (!nv)
			goto nomem;
		argv = nv;
		argv[n++] = cmd[i];
	}
	for (char **v = nr_cmd > 0 ? NULL : ic.cmd; argv && v && *v; v++) {
		char **nv = realloc(argv, (n + 2) * sizeof(char *));

		if (!nv)
			goto nomem;
		argv = nv;
		argv[n++] = *v;
	}
	if (!argv)
		goto nomem;
	if (!n) {
		err_set(e, EINVAL, "run: the image has no Entrypoint/Cmd: give one after --");
		goto out;
	}
	if (spec_for_command(argv, n, tty, &o->spec, e) < 0 ||
	    image_process(o->spec->process, &ic, e) < 0)
		goto out;
	o->rootfs = "rootfs";
	o->image_dir = image_dir;
	r = 0;
	goto out;
nomem:
	err_set(e, ENOMEM, "out of memory");
out:
	free(argv);
	image_config_free(&ic);
	return r;
}

/* --rootfs DIR or --image TAR, [ID] -- CMD. */
static int command_opts(const struct cli_ctx *ctx, const struct cli_args *a, struct vm_opts *o,
                        char *gen_id, size_t size, char *image_dir, size_t image_size,
                        struct err *e)
{
	const char *image = cli_get(a, O_IMAGE);
	char **cmd = NULL;
	int nr_cmd = 0;

	if (image && cli_get(a, O_ROOTFS))
		return err_set(e, EINVAL, "run: --image and --rootfs exclude each other");
	if (split_args(a, image, &o->id, &cmd, &nr_cmd, e) < 0)
		return -1;
	if (!o->id) {
		snprintf(gen_id, size, "run-%d", (int)getpid());
		o->id = gen_id;
	}
	o->tty = cli_has(a, 't');
	o->stdin_open = o->tty || cli_has(a, 'i');
	o->readonly = cli_has(a, O_READONLY);
	if (image)
		return image_spec(ctx, image, cmd, nr_cmd, o->tty, o, image_dir, image_size, e);
	o->rootfs = cli_get(a, O_ROOTFS);
	return spec_for_command(cmd, (size_t)nr_cmd, o->tty, &o->spec, e);
}

/* -d: create (a forked monitor) and start; on a failed start the
 * container is deleted again. */
static int run_detached(struct cli_ctx *ctx, struct vm_opts *o, const char *console, struct err *e)
{
	struct err de;
	pid_t pid;

	if (o->tty != !!console)
		return err_set(
		        e, EINVAL, "%s",
		        o->tty ? "run -d with a terminal needs --console-socket"
		               : "--console-socket needs a terminal (-t or process.terminal)");
	o->foreground = false;
	pid = vm_spawn(ctx, o, console, e);
	if (pid < 0)
		return -1;
	if (vm_control(ctx, o->id, "start", e) < 0) {
		if (vm_control(ctx, o->id, "delete", &de) < 0)
			kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		if (state_remove(cli_root(ctx), o->id, &de) < 0)
			log_warn("%s", de.msg);
		return -1;
	}
	return 0;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	struct vm_opts o = {.ready_fd = -1, .foreground = true};
	struct bundle *b = NULL;
	char gen_id[32], image_dir[4096] = "";
	int status = -1;
	struct err ce;

	if (cli_get(a, O_CONSOLE) && !cli_has(a, O_DETACH))
		return err_set(e, ENOTSUP, "not supported: run --console-socket without -d");
	if ((cli_get(a, O_MEM) && parse_uint("--mem", cli_get(a, O_MEM), &o.memory_mib, e) < 0) ||
	    (cli_get(a, O_CPUS) && parse_uint("--cpus", cli_get(a, O_CPUS), &o.vcpus, e) < 0))
		return -1;
	if ((cli_get(a, O_ROOTFS) || cli_get(a, O_IMAGE)
	             ? command_opts(ctx, a, &o, gen_id, sizeof(gen_id), image_dir,
	                            sizeof(image_dir), e)
	             : bundle_opts(a, &o, &b, e)) < 0)
		goto out;
	o.rm = cli_has(a, O_RM);
	o.pid_file = cli_get(a, O_PID_FILE);
	signal(SIGPIPE, SIG_IGN);
	if (cli_has(a, O_DETACH))
		status = run_detached(ctx, &o, cli_get(a, O_CONSOLE), e);
	else
		status = vm_monitor(ctx, &o, e);
out:
	/* once the monitor has the state, the image went into it: what is
	 * still here is the unpacked image of a container that never came */
	if (image_dir[0] && util_rm_rf(image_dir, &ce) < 0)
		log_warn("%s", ce.msg);
	spec_free(o.spec);
	bundle_free(b);
	if (status < 0)
		return -1;
	/* the agent reports what the process's parent would see as $? */
	return status > 255 ? 255 : status;
}

const struct cli_command cli_cmd_run = {
        .name = "run",
        .args = "--rootfs DIR|--image TAR [<id>] -- <command> [args...] | <container-id>",
        .summary = "run a command in a new container in its own VM (in the foreground, or -d)",
        .options = options,
        .min_args = 0,
        .max_args = -1,
        .run = run,
};
