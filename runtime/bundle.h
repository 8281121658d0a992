/* runtime/bundle.h: an OCI bundle (<dir>/config.json plus the root
 * filesystem), loaded and checked for what hako needs before it starts a
 * VM, with clear messages for what is missing. */
#ifndef HAKO_RUNTIME_BUNDLE_H
#define HAKO_RUNTIME_BUNDLE_H

#include <stdbool.h>

#include "lib/err.h"

struct json_object;

/* The annotations CRI runtimes put on sandbox and container specs. */
#define BUNDLE_ANN_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define BUNDLE_ANN_SANDBOX_ID     "io.kubernetes.cri.sandbox-id"
#define BUNDLE_ANN_CRIO_TYPE      "io.kubernetes.cri-o.ContainerType"
#define BUNDLE_ANN_CRIO_SANDBOX   "io.kubernetes.cri-o.SandboxID"

#define BUNDLE_OCI_VERSION "1.1.0"

enum bundle_kind {
	BUNDLE_STANDALONE, /* no CRI annotations: one container, its own VM */
	BUNDLE_SANDBOX,    /* a pod's sandbox (pause) container: creates the VM */
	BUNDLE_CONTAINER,  /* a container joining an existing pod sandbox */
};

struct bundle {
	char *dir;     /* absolute */
	char *rootfs;  /* absolute root.path */
	bool readonly; /* root.readonly */
	enum bundle_kind kind;
	struct json_object *spec; /* the whole config.json, owned */
};

/* Load <dir>/config.json and check ociVersion, process.args (not needed for
 * a pod sandbox), root.path (relative to dir or absolute; must be a
 * directory). Messages look like "bundle /x: config.json: process.args:
 * must be a non-empty array of strings". */
int bundle_load(const char *dir, struct bundle **out, struct err *e);
void bundle_free(struct bundle *b);

/* annotations[key], or NULL. */
const char *bundle_annotation(const struct bundle *b, const char *key);
/* The pod sandbox id from CRI annotations (containerd's or CRI-O's), or NULL. */
const char *bundle_sandbox_id(const struct bundle *b);

/* A default runc-style config.json (sh in a busybox-like rootfs at
 * "rootfs"), pretty-printed; caller frees. */
int bundle_default_spec(char **json, struct err *e);

#endif
