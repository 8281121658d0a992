/* cli/main.c: `hako [global options] COMMAND [options] [args]`: the command
 * table, global options, help and version; the commands live one per file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "runtime/bundle.h"

/* One line per command, alphabetical; clang-format would pack the lines,
 * which makes every added command a conflict. */
/* clang-format off */
static const struct cli_command *const commands[] = {
        &cli_cmd_check,
        &cli_cmd_create,
        &cli_cmd_delete,
        &cli_cmd_env,
        &cli_cmd_events,
        &cli_cmd_exec,
        &cli_cmd_features,
        &cli_cmd_kill,
        &cli_cmd_list,
        &cli_cmd_pause,
        &cli_cmd_ps,
        &cli_cmd_resume,
        &cli_cmd_run,
        &cli_cmd_spec,
        &cli_cmd_start,
        &cli_cmd_state,
        &cli_cmd_update,
};
/* clang-format on */

static void usage(FILE *f)
{
	fprintf(f, "Usage: hako [global options] COMMAND [options] [args]\n\n"
	           "hako runs OCI containers, each pod in its own lightweight virtual machine.\n\n"
	           "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\nGlobal options:\n"
	           "  --root DIR             state directory (default /run/hako)\n"
	           "  --log FILE             write logs to FILE (default stderr)\n"
	           "  --log-format FORMAT    text or json (default text)\n"
	           "  --debug                log debug messages\n"
	           "  --systemd-cgroup       accepted for runc compatibility; hako manages "
	           "cgroups itself\n"
	           "  --config FILE          configuration file (default $HAKO_CONFIG or\n"
	           "                         /etc/hako/configuration.toml)\n"
	           "  --hypervisor NAME      auto, builtin, qemu or none, for this call only\n"
	           "  -h, --help             show this help (COMMAND --help: the command's)\n"
	           "  -v, --version          print the version\n");
}

static const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static int fail(const struct cli_ctx *ctx, const struct err *e)
{
	fprintf(stderr, "hako: %s\n", e->msg);
	/* containerd and podman read the log file to learn why runc failed. */
	if (ctx->g.log)
		log_error("%s", e->msg);
	return 1;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = {.out = stdout};
	const struct cli_command *cmd;
	struct cli_args args;
	bool help, version;
	struct err e;
	int idx, ret;

	log_set_name("hako");
	if (cli_parse_globals(argc, argv, &ctx.g, &idx, &help, &version, &e) < 0)
		return fail(&ctx, &e);
	if (version) {
		printf("hako version %s\nspec: %s\n", HAKO_VERSION, BUNDLE_OCI_VERSION);
		return 0;
	}
	if (help || idx >= argc) {
		usage(help ? stdout : stderr);
		return help ? 0 : 1;
	}
	if (log_open(ctx.g.log, ctx.g.log_format && !strcmp(ctx.g.log_format, "json"), &e) < 0)
		return fail(&ctx, &e);
	if (ctx.g.debug)
		log_set_level(LOG_DEBUG);

	cmd = find_command(argv[idx]);
	if (!cmd) {
		err_set(&e, 0, "unknown command '%s' (see hako --help)", argv[idx]);
		return fail(&ctx, &e);
	}
	if (cli_wants_help(argc - idx, argv + idx)) {
		cli_usage(stdout, cmd);
		return 0;
	}
	if (cli_parse(cmd, argc - idx, argv + idx, &args, &e) < 0)
		return fail(&ctx, &e);
	err_clear(&e);
	ret = cmd->run(&ctx, &args, &e);
	if (ret < 0)
		ret = fail(&ctx, &e);
	fflush(stdout);
	log_close();
	return ret;
}
