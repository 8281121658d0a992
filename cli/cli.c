/* cli/cli.c: option parsing shared by every command (getopt_long built from
 * the command's option table), usage text, and small helpers commands share. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/bundle.h"
#include "runtime/config.h"
#include "runtime/state.h"

enum {
	G_ROOT = CLI_LONG_ONLY,
	G_LOG,
	G_LOG_FORMAT,
	G_DEBUG,
	G_SYSTEMD_CGROUP,
	G_CONFIG,
	G_HYPERVISOR,
	G_HELP,
	G_VERSION,
};

static const struct option global_options[] = {
        {"root", required_argument, NULL, G_ROOT},
        {"log", required_argument, NULL, G_LOG},
        {"log-format", required_argument, NULL, G_LOG_FORMAT},
        {"debug", no_argument, NULL, G_DEBUG},
        {"systemd-cgroup", no_argument, NULL, G_SYSTEMD_CGROUP},
        {"config", required_argument, NULL, G_CONFIG},
        {"hypervisor", required_argument, NULL, G_HYPERVISOR},
        {"help", no_argument, NULL, G_HELP},
        {"version", no_argument, NULL, G_VERSION},
        {NULL, 0, NULL, 0},
};

/* The argument getopt complained about, for the message. */
static const char *bad_arg(int argc, char **argv)
{
	int i = optind - 1;

	return i >= 0 && i < argc ? argv[i] : "?";
}

int cli_parse_globals(int argc, char **argv, struct cli_globals *g, int *cmd_index, bool *help,
                      bool *version, struct err *e)
{
	int c;

	memset(g, 0, sizeof(*g));
	*help = *version = false;
	optind = 0; /* GNU: reinitialize, so this can run more than once */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hv", global_options, NULL)) != -1) {
		switch (c) {
		case G_ROOT:
			g->root = optarg;
			break;
		case G_LOG:
			g->log = optarg;
			break;
		case G_LOG_FORMAT:
			if (strcmp(optarg, "text") && strcmp(optarg, "json"))
				return err_set(e, EINVAL,
				               "--log-format: \"%s\" is not text or json", optarg);
			g->log_format = optarg;
			break;
		case G_DEBUG:
			g->debug = true;
			break;
		case G_SYSTEMD_CGROUP:
			g->systemd_cgroup = true;
			break;
		case G_CONFIG:
			g->config = optarg;
			break;
		case G_HYPERVISOR:
			g->hypervisor = optarg;
			break;
		case 'h':
		case G_HELP:
			*help = true;
			break;
		case 'v':
		case G_VERSION:
			*version = true;
			break;
		case ':':
			return err_set(e, EINVAL, "option %s needs an argument",
			               bad_arg(argc, argv));
		default:
			return err_set(e, EINVAL, "unknown global option %s (see hako --help)",
			               bad_arg(argc, argv));
		}
		if (*help || *version)
			break;
	}
	*cmd_index = optind;
	return 0;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
		if (argv[i][0] != '-')
			return false;
	}
	return false;
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *out,
              struct err *e)
{
	struct option longs[CLI_MAX_OPTS + 1];
	char shorts[3 * CLI_MAX_OPTS + 3] = "+:";
	size_t n = 0, s = 2;
	int c;

	memset(out, 0, sizeof(*out));
	for (const struct cli_option *o = cmd->options; o && o->name; o++) {
		if (n == CLI_MAX_OPTS)
			return err_set(e, E2BIG, "%s: too many options", cmd->name);
		longs[n].name = o->name;
		longs[n].has_arg = o->arg ? required_argument : no_argument;
		longs[n].flag = NULL;
		longs[n].val = o->key;
		n++;
		if (o->key < CLI_LONG_ONLY) {
			shorts[s++] = (char)o->key;
			if (o->arg)
				shorts[s++] = ':';
		}
	}
	memset(&longs[n], 0, sizeof(longs[n]));
	shorts[s] = '\0';

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (c == ':')
			return err_set(e, EINVAL, "%s: option %s needs an argument", cmd->name,
			               bad_arg(argc, argv));
		if (c == '?') {
			if (optopt && optopt < CLI_LONG_ONLY && !strchr(argv[optind - 1], '='))
				return err_set(e, EINVAL,
				               "%s: unknown option -%c (see hako %s --help)",
				               cmd->name, optopt, cmd->name);
			return err_set(e, EINVAL, "%s: unknown option %s (see hako %s --help)",
			               cmd->name, bad_arg(argc, argv), cmd->name);
		}
		if (out->nr_opts == CLI_MAX_OPTS)
			return err_set(e, E2BIG, "%s: too many options", cmd->name);
		out->opts[out->nr_opts].key = c;
		out->opts[out->nr_opts].value = optarg;
		out->nr_opts++;
	}
	out->argc = argc - optind;
	out->argv = argv + optind;
	if (out->argc < cmd->min_args)
		return err_set(e, EINVAL, "%s: missing argument: expected %s (see hako %s --help)",
		               cmd->name, cmd->args ? cmd->args : "an argument", cmd->name);
	if (cmd->max_args >= 0 && out->argc > cmd->max_args)
		return err_set(e, EINVAL, "%s: unexpected argument '%s' (see hako %s --help)",
		               cmd->name, out->argv[cmd->max_args], cmd->name);
	return 0;
}

bool cli_has(const struct cli_args *a, int key)
{
	for (int i = 0; i < a->nr_opts; i++)
		if (a->opts[i].key == key)
			return true;
	return false;
}

const char *cli_get(const struct cli_args *a, int key)
{
	const char *v = NULL;

	for (int i = 0; i < a->nr_opts; i++)
		if (a->opts[i].key == key)
			v = a->opts[i].value;
	return v;
}

void cli_usage(FILE *f, const struct cli_command *cmd)
{
	fprintf(f, "Usage: hako [global options] %s [options]%s%s\n\n%s\n", cmd->name,
	        cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->summary);
	fprintf(f, "\nOptions:\n");
	for (const struct cli_option *o = cmd->options; o && o->name; o++) {
		char left[64];

		if (o->key < CLI_LONG_ONLY)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->key, o->name,
			         o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
			         o->arg ? o->arg : "");
		/* a long option name gets its own line, the help under it */
		if (strlen(left) > 26)
			fprintf(f, "  %s\n  %-26s %s\n", left, "", o->help);
		else
			fprintf(f, "  %-26s %s\n", left, o->help);
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}

const char *cli_root(const struct cli_ctx *ctx)
{
	return ctx->g.root ? ctx->g.root : STATE_DEFAULT_ROOT;
}

int cli_load_config(const struct cli_ctx *ctx, struct config **out, struct err *e)
{
	if (config_load(ctx->g.config, out, e) < 0)
		return err_ctx(e, "configuration");
	for (char **w = (*out)->warnings; w && *w; w++)
		log_warn("%s", *w);
	return 0;
}

/* runc reports the owner of the state directory as the container's owner. */
static const char *owner_name(const struct state *s, const char *root, char *buf, size_t size)
{
	char dir[4096];
	struct stat st;
	struct passwd *pw;
	struct err e;

	if (state_dir(root, s->id, dir, sizeof(dir), &e) < 0 || stat(dir, &st) < 0)
		return "";
	pw = getpwuid(st.st_uid);
	if (pw)
		return pw->pw_name;
	snprintf(buf, size, "%u", (unsigned int)st.st_uid);
	return buf;
}

struct json_object *cli_state_json(const struct state *s, const char *root)
{
	struct json_object *o = json_object_new_object();
	struct json_object *ann = json_object_new_object();
	char owner[32];

	if (!o || !ann) {
		json_object_put(o);
		json_object_put(ann);
		return NULL;
	}
	json_object_object_add(o, "ociVersion", json_object_new_string(BUNDLE_OCI_VERSION));
	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "pid",
	                       json_object_new_int(s->status == STATE_STOPPED ? 0 : (int)s->pid));
	json_object_object_add(o, "status", json_object_new_string(state_status_name(s->status)));
	json_object_object_add(o, "bundle", json_object_new_string(s->bundle));
	json_object_object_add(o, "rootfs", json_object_new_string(s->rootfs));
	json_object_object_add(o, "created", json_object_new_string(s->created));
	json_object_object_add(o, "owner",
	                       json_object_new_string(owner_name(s, root, owner, sizeof(owner))));
	for (size_t i = 0; i < s->nr_annotations; i++)
		json_object_object_add(ann, s->annotations[i].key,
		                       json_object_new_string(s->annotations[i].value));
	json_object_object_add(o, "annotations", ann);
	return o;
}
