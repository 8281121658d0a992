/* agent/oci_internal.h: what the oci module's files share: typed JSON
 * field access whose errors name the field path. Not for other modules. */
#ifndef HAKO_AGENT_OCI_INTERNAL_H
#define HAKO_AGENT_OCI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "agent/oci.h"
#include "lib/err.h"

#define PATH_MAX_FIELD 256 /* longer field paths are cut short */

/* err_set(EINVAL, "PATH: WHY"); returns -1. */
int oci_bad(struct err *e, const char *path, const char *why);
/* out = "parent.name" (or "name"), "parent[i]". */
void oci_sub(char *out, const char *parent, const char *name);
void oci_idx(char *out, const char *parent, size_t i);

/* A field, NULL when absent or JSON null. */
struct json_object *oci_get(struct json_object *o, const char *key);
/* Typed fields of o, named where.key in errors; absent leaves *out. */
int oci_get_string(struct json_object *o, const char *key, const char *where, char **out,
                   struct err *e);
int oci_get_bool(struct json_object *o, const char *key, const char *where, bool *out,
                 struct err *e);
int oci_get_int64(struct json_object *o, const char *key, const char *where, int64_t *out,
                  struct err *e);
int oci_get_u32(struct json_object *o, const char *key, const char *where, uint32_t *out,
                bool required, struct err *e);
int oci_as_int64(struct json_object *v, const char *path, int64_t *out, struct err *e);
int oci_as_uint64(struct json_object *v, const char *path, uint64_t *out, struct err *e);
/* An array of strings -> NULL-terminated vector (NULL when absent). */
int oci_get_strv(struct json_object *o, const char *key, const char *where, bool nonempty,
                 char ***out, size_t *nr, struct err *e);
void oci_strv_free(char **v);
int oci_get_array(struct json_object *o, const char *key, const char *where,
                  struct json_object **arr, size_t *n, struct err *e);
int oci_get_object(struct json_object *o, const char *key, const char *where,
                   struct json_object **out, struct err *e);

/* oci_linux.c: the "linux" object. */
int oci_parse_linux(struct json_object *root, struct oci_spec *s, struct err *e);
void oci_seccomp_free(struct oci_seccomp *sc);

#endif
