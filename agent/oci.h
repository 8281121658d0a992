/* agent/oci.h: an OCI runtime-spec 1.1 config.json parsed and validated into
 * plain structs the container engine works from. Errors name the field path. */
#ifndef HAKO_AGENT_OCI_H
#define HAKO_AGENT_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "lib/err.h"

/* "Not given" for the signed resource values below. */
#define OCI_UNSET INT64_MIN

struct oci_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

/* A capability set is a bit mask of CAP_* numbers. */
struct oci_caps {
	uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct oci_process {
	bool terminal;
	unsigned console_height, console_width;
	uid_t uid;
	gid_t gid;
	gid_t *additional_gids;
	size_t nr_additional_gids;
	int umask;   /* -1: keep */
	char **args; /* NULL-terminated */
	char **env;  /* NULL-terminated */
	char *cwd;
	bool has_caps; /* false: keep the full set (root) */
	struct oci_caps caps;
	struct oci_rlimit *rlimits;
	size_t nr_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
};

struct oci_mount {
	char *destination;
	char *type;          /* may be NULL for binds */
	char *source;        /* may be NULL */
	unsigned long flags; /* MS_* (MS_BIND, MS_REC, MS_RDONLY...) */
	unsigned long
	        propagation; /* MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE | MS_REC, 0: none */
	char *data;          /* options the kernel parses itself, comma-joined */
};

enum oci_ns_type {
	OCI_NS_PID,
	OCI_NS_NETWORK,
	OCI_NS_MOUNT,
	OCI_NS_IPC,
	OCI_NS_UTS,
	OCI_NS_USER,
	OCI_NS_CGROUP,
	OCI_NS_MAX,
};

struct oci_namespace {
	bool present;
	char *path; /* join this namespace instead of creating one */
};

struct oci_idmap {
	uint32_t container_id, host_id, size;
};

struct oci_device {
	char *path;
	char type; /* 'c', 'b', 'u' or 'p' */
	int64_t major, minor;
	bool has_mode;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct oci_dev_rule {
	bool allow;
	char type;            /* 'a', 'c' or 'b' */
	int64_t major, minor; /* -1: any */
	char access[4];       /* subset of "rwm" */
};

struct oci_resources {
	int64_t mem_limit, mem_reservation, mem_swap; /* bytes, OCI_UNSET; -1: unlimited */
	int64_t cpu_shares, cpu_quota, cpu_period;    /* OCI_UNSET when absent */
	char *cpus, *mems;
	int64_t pids_limit; /* OCI_UNSET; <= 0: unlimited */
	struct oci_dev_rule *devices;
	size_t nr_devices;
};

struct oci_seccomp_arg {
	unsigned index;
	uint64_t value, value_two;
	int op; /* enum scmp_compare */
};

struct oci_seccomp_rule {
	char **names;
	size_t nr_names;
	uint32_t action; /* libseccomp SCMP_ACT_* value */
	struct oci_seccomp_arg *args;
	size_t nr_args;
};

struct oci_seccomp {
	uint32_t default_action;
	uint32_t *archs; /* SCMP_ARCH_* tokens */
	size_t nr_archs;
	struct oci_seccomp_rule *rules;
	size_t nr_rules;
};

struct oci_spec {
	char *version;
	struct oci_process *process; /* NULL if absent */
	char *root_path;
	bool root_readonly;
	char *hostname;
	struct oci_mount *mounts;
	size_t nr_mounts;
	struct oci_namespace ns[OCI_NS_MAX];
	struct oci_idmap *uid_mappings, *gid_mappings;
	size_t nr_uid_mappings, nr_gid_mappings;
	struct oci_resources resources;
	char *cgroups_path;
	char **sysctl_keys, **sysctl_values;
	size_t nr_sysctl;
	char **masked_paths;
	size_t nr_masked_paths;
	char **readonly_paths;
	size_t nr_readonly_paths;
	struct oci_seccomp *seccomp; /* NULL: none */
	struct oci_device *devices;
	size_t nr_devices;
};

/* Parse a whole config.json text. */
int oci_spec_parse(const char *json, struct oci_spec **out, struct err *e);
/* Parse an already-decoded config object. */
int oci_spec_from_json(struct json_object *root, struct oci_spec **out, struct err *e);
void oci_spec_free(struct oci_spec *s);

/* Parse one "process" object (a spec's, or an exec request's); errors are
 * prefixed with `where` ("process"). */
int oci_process_parse(struct json_object *obj, const char *where, struct oci_process **out,
                      struct err *e);
int oci_process_parse_string(const char *json, struct oci_process **out, struct err *e);
void oci_process_free(struct oci_process *p);

/* Parse "linux.resources" alone (UpdateContainer); out needs no set-up
 * and is released with oci_resources_clear. */
int oci_resources_parse(struct json_object *obj, const char *where, struct oci_resources *out,
                        struct err *e);
void oci_resources_clear(struct oci_resources *r);

/* Mount "options" into flags, propagation and data; used for storages too. */
int oci_mount_options(struct json_object *opts, const char *where, unsigned long *flags,
                      unsigned long *propagation, char **data, struct err *e);
/* The same for a plain C array of option strings. */
int oci_mount_options_strv(char *const *opts, size_t n, unsigned long *flags,
                           unsigned long *propagation, char **data, struct err *e);

const char *oci_ns_name(enum oci_ns_type t);

#endif
