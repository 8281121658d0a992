/* agent/oci_json.c: typed access to config.json fields for the oci module,
 * every error naming the field's path ("process.user.uid"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/oci_internal.h"

int oci_bad(struct err *e, const char *path, const char *why)
{
	return err_set(e, EINVAL, "%s: %s", path, why);
}

/* Field paths longer than PATH_MAX_FIELD are cut short on purpose: they
 * only label error messages. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
void oci_sub(char *out, const char *parent, const char *name)
{
	if (parent[0])
		snprintf(out, PATH_MAX_FIELD, "%s.%s", parent, name);
	else
		snprintf(out, PATH_MAX_FIELD, "%s", name);
}

void oci_idx(char *out, const char *parent, size_t i)
{
	snprintf(out, PATH_MAX_FIELD, "%s[%zu]", parent, i);
}
#pragma GCC diagnostic pop

/* Field lookup: NULL when absent or JSON null. */
struct json_object *oci_get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* The field at key when it has the JSON type; *v = NULL when absent, an
 * error naming the field (why) when of another type. */
static int get_typed(struct json_object *o, const char *key, const char *where, json_type type,
                     const char *why, struct json_object **v, struct err *e)
{
	char path[PATH_MAX_FIELD];

	*v = oci_get(o, key);
	if (!*v || json_object_is_type(*v, type))
		return 0;
	oci_sub(path, where, key);
	*v = NULL;
	return oci_bad(e, path, why);
}

int oci_get_string(struct json_object *o, const char *key, const char *where, char **out,
                   struct err *e)
{
	struct json_object *v;

	*out = NULL;
	if (get_typed(o, key, where, json_type_string, "must be a string", &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	*out = strdup(json_object_get_string(v));
	if (!*out)
		return err_set(e, ENOMEM, "out of memory");
	return 0;
}

int oci_get_bool(struct json_object *o, const char *key, const char *where, bool *out,
                 struct err *e)
{
	struct json_object *v;

	if (get_typed(o, key, where, json_type_boolean, "must be a boolean", &v, e) < 0)
		return -1;
	if (v)
		*out = json_object_get_boolean(v);
	return 0;
}

/* Integers: json-c keeps int64 and uint64; range checks are the caller's. */
int oci_as_int64(struct json_object *v, const char *path, int64_t *out, struct err *e)
{
	if (!json_object_is_type(v, json_type_int))
		return oci_bad(e, path, "must be an integer");
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno == EINVAL)
		return oci_bad(e, path, "must be an integer");
	return 0;
}

int oci_as_uint64(struct json_object *v, const char *path, uint64_t *out, struct err *e)
{
	if (!json_object_is_type(v, json_type_int))
		return oci_bad(e, path, "must be an integer");
	if (json_object_get_int64(v) < 0)
		return oci_bad(e, path, "must not be negative");
	*out = json_object_get_uint64(v);
	return 0;
}

int oci_get_int64(struct json_object *o, const char *key, const char *where, int64_t *out,
                  struct err *e)
{
	struct json_object *v = oci_get(o, key);
	char path[PATH_MAX_FIELD];

	if (!v)
		return 0;
	oci_sub(path, where, key);
	return oci_as_int64(v, path, out, e);
}

int oci_get_u32(struct json_object *o, const char *key, const char *where, uint32_t *out,
                bool required, struct err *e)
{
	struct json_object *v = oci_get(o, key);
	char path[PATH_MAX_FIELD];
	uint64_t u;

	oci_sub(path, where, key);
	if (!v)
		return required ? oci_bad(e, path, "is required") : 0;
	if (oci_as_uint64(v, path, &u, e) < 0)
		return -1;
	if (u > UINT32_MAX)
		return oci_bad(e, path, "out of range");
	*out = (uint32_t)u;
	return 0;
}

void oci_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* A JSON array of strings -> NULL-terminated vector; absent -> NULL. */
int oci_get_strv(struct json_object *o, const char *key, const char *where, bool nonempty,
                 char ***out, size_t *nr, struct err *e)
{
	struct json_object *v = oci_get(o, key);
	char path[PATH_MAX_FIELD];
	char **vec;
	size_t n;

	*out = NULL;
	if (nr)
		*nr = 0;
	oci_sub(path, where, key);
	if (!v)
		return nonempty ? oci_bad(e, path, "must be a non-empty array of strings") : 0;
	if (!json_object_is_type(v, json_type_array))
		return oci_bad(e, path,
		               nonempty ? "must be a non-empty array of strings"
		                        : "must be an array of strings");
	n = json_object_array_length(v);
	if (nonempty && n == 0)
		return oci_bad(e, path, "must be a non-empty array of strings");
	vec = calloc(n + 1, sizeof(*vec));
	if (!vec)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(v, i);

		if (!json_object_is_type(s, json_type_string)) {
			char ipath[PATH_MAX_FIELD];

			oci_strv_free(vec);
			oci_idx(ipath, path, i);
			return oci_bad(e, ipath, "must be a string");
		}
		vec[i] = strdup(json_object_get_string(s));
		if (!vec[i]) {
			oci_strv_free(vec);
			return err_set(e, ENOMEM, "out of memory");
		}
	}
	*out = vec;
	if (nr)
		*nr = n;
	return 0;
}

/* Array field that must be an array when present; *n = 0 when absent. */
int oci_get_array(struct json_object *o, const char *key, const char *where,
                  struct json_object **arr, size_t *n, struct err *e)
{
	*n = 0;
	if (get_typed(o, key, where, json_type_array, "must be an array", arr, e) < 0)
		return -1;
	if (*arr)
		*n = json_object_array_length(*arr);
	return 0;
}

int oci_get_object(struct json_object *o, const char *key, const char *where,
                   struct json_object **out, struct err *e)
{
	return get_typed(o, key, where, json_type_object, "must be an object", out, e);
}
