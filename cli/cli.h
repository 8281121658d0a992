/* cli/cli.h: the `hako` command line. Each command is one file, cmd_<name>.c,
 * defining a struct cli_command (options for --help and parsing, a run
 * function), plus one line in cli/main.c's table and one declaration below;
 * the work is done by libhako-runtime. */
#ifndef HAKO_CLI_CLI_H
#define HAKO_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "lib/err.h"

struct config;
struct json_object;
struct state;

/* Options given before the command (runc's, plus --config and --hypervisor). */
struct cli_globals {
	const char *root;       /* --root: state directory (default /run/hako) */
	const char *log;        /* --log FILE */
	const char *log_format; /* --log-format text|json */
	bool debug;             /* --debug */
	bool systemd_cgroup;    /* --systemd-cgroup: accepted, hako manages cgroups itself */
	const char *config;     /* --config FILE */
	const char *hypervisor; /* --hypervisor NAME: overrides runtime.hypervisor_name */
};

/* Long-only options use keys from here up. */
#define CLI_LONG_ONLY 256

struct cli_option {
	const char *name; /* long name, without "--" */
	int key;          /* short letter, or CLI_LONG_ONLY + n */
	const char *arg;  /* argument name for --help ("DIR"), NULL for a flag */
	const char *help;
};

#define CLI_MAX_OPTS 64

/* A parsed command line: options in the order given (values point into
 * argv; repeated options appear repeatedly), then the positional arguments. */
struct cli_args {
	int nr_opts;
	struct {
		int key;
		const char *value; /* NULL for flags */
	} opts[CLI_MAX_OPTS];
	int argc;
	char **argv;
};

struct cli_ctx {
	struct cli_globals g;
	FILE *out; /* where commands print results (stdout) */
};

struct cli_command {
	const char *name;
	const char *args;                 /* positional arguments for usage: "<container-id>" */
	const char *summary;              /* one line */
	const struct cli_option *options; /* terminated by an entry with name NULL */
	int min_args, max_args;           /* positional; max -1: any number */
	/* Returns the exit status (>= 0), or -1 with e set (main prints it, exits 1). */
	int (*run)(struct cli_ctx *ctx, const struct cli_args *args, struct err *e);
};

/* The commands (one line each; defined in cli/cmd_<name>.c). */
extern const struct cli_command cli_cmd_check;
extern const struct cli_command cli_cmd_create;
extern const struct cli_command cli_cmd_delete;
extern const struct cli_command cli_cmd_env;
extern const struct cli_command cli_cmd_events;
extern const struct cli_command cli_cmd_exec;
extern const struct cli_command cli_cmd_features;
extern const struct cli_command cli_cmd_kill;
extern const struct cli_command cli_cmd_list;
extern const struct cli_command cli_cmd_pause;
extern const struct cli_command cli_cmd_ps;
extern const struct cli_command cli_cmd_resume;
extern const struct cli_command cli_cmd_run;
extern const struct cli_command cli_cmd_spec;
extern const struct cli_command cli_cmd_start;
extern const struct cli_command cli_cmd_state;
extern const struct cli_command cli_cmd_update;

/* Parse the global options of argv (argv[0] is the program); *cmd_index is
 * the index of the command name, or argc when none. --help and --version
 * set *help / *version and stop. */
int cli_parse_globals(int argc, char **argv, struct cli_globals *g, int *cmd_index, bool *help,
                      bool *version, struct err *e);
/* Parse a command's options; argv[0] is the command name. Checks the number
 * of positional arguments. "--help"/"-h" are not options here (main handles
 * them before). */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *out,
              struct err *e);
/* Was the option given? Its value (the last one given), or NULL. */
bool cli_has(const struct cli_args *a, int key);
const char *cli_get(const struct cli_args *a, int key);
/* True when argv (a command's, before any positional argument) asks for help. */
bool cli_wants_help(int argc, char **argv);

void cli_usage(FILE *f, const struct cli_command *cmd);

/* The state root in effect (--root or STATE_DEFAULT_ROOT). */
const char *cli_root(const struct cli_ctx *ctx);
/* Load the configuration (--config, $HAKO_CONFIG, default), logging its
 * warnings. */
int cli_load_config(const struct cli_ctx *ctx, struct config **out, struct err *e);
/* A container's state as runc's `state` prints it (caller puts the object). */
struct json_object *cli_state_json(const struct state *s, const char *root);

#endif
