/* lib/pbjson.c: generic protobuf-c <-> json-c conversion walking the
 * message descriptors: field presence, repeated fields, maps, oneofs, and
 * the OCI config.json naming of grpc.Spec. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pbjson.h"
#include "lib/util.h"

#define KEY_MAX      64
#define PATH_MAX_LEN 256

/* Where the "lowercase the leading capitals" rule gets config.json wrong,
 * and fields config.json requires even at their zero value. */
static const struct oci_rule {
	const char *message;
	const char *field;
	const char *json; /* NULL: the rule's name */
	bool always;      /* written even at the default value */
} oci_rules[] = {
        {"grpc.Spec", "Version", "ociVersion", true},
        {"grpc.LinuxHugepageLimit", "Pagesize", "pageSize", false},
        {"grpc.LinuxSyscall", "errnoret", "errnoRet", false},
        {"grpc.Root", "Path", NULL, true},
        {"grpc.Process", "Cwd", NULL, true},
        {"grpc.User", "UID", NULL, true},
        {"grpc.User", "GID", NULL, true},
};

static const struct oci_rule *oci_rule(const ProtobufCMessageDescriptor *d,
                                       const ProtobufCFieldDescriptor *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(oci_rules); i++)
		if (!strcmp(oci_rules[i].message, d->name) && !strcmp(oci_rules[i].field, f->name))
			return &oci_rules[i];
	return NULL;
}

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

/* OOMScoreAdj -> oomScoreAdj, UID -> uid, HostID -> hostID, CPU -> cpu:
 * lowercase the leading capitals, except the last of a run that starts the
 * next word. */
static void oci_case(const char *name, char *out, size_t size)
{
	size_t run = 0, n = strlen(name);

	snprintf(out, size, "%s", name);
	while (run < n && is_upper(name[run]))
		run++;
	if (run > 1 && run < n && is_lower(name[run]))
		run--;
	for (size_t i = 0; i < run && i < size - 1; i++)
		out[i] = (char)(out[i] - 'A' + 'a');
}

static const char *json_key(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                            int flags, char buf[KEY_MAX])
{
	const struct oci_rule *r;

	if (!(flags & PBJSON_OCI))
		return f->name;
	r = oci_rule(d, f);
	if (r && r->json)
		return r->json;
	oci_case(f->name, buf, KEY_MAX);
	return buf;
}

static size_t type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static void *member(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	return (char *)m + f->offset;
}

static void *quantifier(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	return (char *)m + f->quantifier_offset;
}

/* A map field is a repeated <Field>Entry message with key = 1, value = 2. */
static bool is_map(const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	char camel[KEY_MAX + 8];
	size_t n = 0;
	bool up = true;

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	if (d->n_fields != 2 || d->fields[0].id != 1 || strcmp(d->fields[0].name, "key") ||
	    d->fields[1].id != 2 || strcmp(d->fields[1].name, "value"))
		return false;
	for (const char *p = f->name; *p && n < KEY_MAX; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		camel[n++] = up && is_lower(*p) ? (char)(*p - 'a' + 'A') : *p;
		up = false;
	}
	snprintf(camel + n, sizeof(camel) - n, "Entry");
	return !strcmp(camel, d->short_name);
}

/* ---- base64 ------------------------------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *p, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = 0;
	return out;
}

/* Padding optional; anything else outside the alphabet is an error. */
static int b64_decode(const char *s, ProtobufCBinaryData *out)
{
	size_t n = strlen(s), bits = 0, len = 0;
	uint32_t acc = 0;
	uint8_t *buf;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	buf = malloc(n * 3 / 4 + 1);
	if (!buf)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *c = s[i] ? strchr(b64, s[i]) : NULL;

		if (!c) {
			free(buf);
			return -1;
		}
		acc = acc << 6 | (uint32_t)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[len++] = (uint8_t)(acc >> bits);
		}
	}
	out->data = buf;
	out->len = len;
	return 0;
}

/* ---- message -> JSON --------------------------------------------------- */

static struct json_object *msg_to_json(const ProtobufCMessage *m, int flags);

static struct json_object *value_to_json(const ProtobufCFieldDescriptor *f, const void *slot,
                                         int flags)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_object_new_int64(*(const int32_t *)slot);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_object_new_int64(*(const uint32_t *)slot);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_object_new_int64(*(const int64_t *)slot);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_object_new_uint64(*(const uint64_t *)slot);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_object_new_double(*(const float *)slot);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_object_new_double(*(const double *)slot);
	case PROTOBUF_C_TYPE_BOOL:
		return json_object_new_boolean(*(const protobuf_c_boolean *)slot);
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)slot;
		const ProtobufCEnumValue *ev =
		        protobuf_c_enum_descriptor_get_value(f->descriptor, v);

		return ev ? json_object_new_string(ev->name) : json_object_new_int(v);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)slot;

		return json_object_new_string(s ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = slot;
		cleanup_free char *s = b64_encode(b->data, b->len);

		return s ? json_object_new_string(s) : NULL;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;

		return sub ? msg_to_json(sub, flags) : json_object_new_object();
	}
	}
	return NULL;
}

static bool is_default(const ProtobufCFieldDescriptor *f, const void *slot)
{
	switch (type_size(f->type)) {
	case 4:
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			return *(const float *)slot == 0;
		return *(const uint32_t *)slot == 0;
	case 8:
		if (f->type == PROTOBUF_C_TYPE_DOUBLE)
			return *(const double *)slot == 0;
		if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
			const char *p = *(const char *const *)slot;

			return !p || (f->type == PROTOBUF_C_TYPE_STRING && !*p);
		}
		return *(const uint64_t *)slot == 0;
	}
	if (f->type == PROTOBUF_C_TYPE_BYTES)
		return ((const ProtobufCBinaryData *)slot)->len == 0;
	return false;
}

/* Should a singular field be written? */
static bool singular_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                             int flags)
{
	const void *slot = member(m, f);
	const struct oci_rule *r;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)quantifier(m, f) == f->id;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(ProtobufCMessage *const *)slot != NULL;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING)
		return *(const protobuf_c_boolean *)quantifier(m, f);
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !*(char *const *)slot)
		return false;
	if (f->label == PROTOBUF_C_LABEL_REQUIRED || (flags & PBJSON_DEFAULTS))
		return true;
	r = flags & PBJSON_OCI ? oci_rule(m->descriptor, f) : NULL;
	return (r && r->always) || !is_default(f, slot);
}

/* Map keys are strings in JSON whatever their proto type. */
static void map_key_string(const ProtobufCFieldDescriptor *kf, const void *slot, char *buf,
                           size_t size)
{
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING:
		snprintf(buf, size, "%s", *(char *const *)slot ? *(char *const *)slot : "");
		break;
	case PROTOBUF_C_TYPE_BOOL:
		snprintf(buf, size, "%s", *(const protobuf_c_boolean *)slot ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(buf, size, "%" PRId32, *(const int32_t *)slot);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(buf, size, "%" PRIu32, *(const uint32_t *)slot);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, size, "%" PRIu64, *(const uint64_t *)slot);
		break;
	default:
		snprintf(buf, size, "%" PRId64, *(const int64_t *)slot);
		break;
	}
}

static struct json_object *repeated_to_json(const ProtobufCMessage *m,
                                            const ProtobufCFieldDescriptor *f, int flags)
{
	size_t n = *(const size_t *)quantifier(m, f), size = type_size(f->type);
	const char *arr = *(char *const *)member(m, f);
	struct json_object *out;

	if (is_map(f)) {
		const ProtobufCMessageDescriptor *ed = f->descriptor;

		out = json_object_new_object();
		for (size_t i = 0; out && i < n; i++) {
			const ProtobufCMessage *entry = ((ProtobufCMessage *const *)arr)[i];
			struct json_object *v;
			char key[128];

			map_key_string(&ed->fields[0], member(entry, &ed->fields[0]), key,
			               sizeof(key));
			v = value_to_json(&ed->fields[1], member(entry, &ed->fields[1]), flags);
			if (!v || json_object_object_add(out, key, v) < 0) {
				json_object_put(v);
				json_object_put(out);
				return NULL;
			}
		}
		return out;
	}
	out = json_object_new_array_ext((int)n);
	for (size_t i = 0; out && i < n; i++) {
		struct json_object *v = value_to_json(f, arr + i * size, flags);

		if (!v || json_object_array_add(out, v) < 0) {
			json_object_put(v);
			json_object_put(out);
			return NULL;
		}
	}
	return out;
}

static struct json_object *msg_to_json(const ProtobufCMessage *m, int flags)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	struct json_object *obj = json_object_new_object();

	for (unsigned i = 0; obj && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		struct json_object *v = NULL;
		char buf[KEY_MAX];

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (!*(const size_t *)quantifier(m, f) && !(flags & PBJSON_DEFAULTS))
				continue;
			v = repeated_to_json(m, f, flags);
		} else {
			if (!singular_present(m, f, flags))
				continue;
			v = value_to_json(f, member(m, f), flags);
		}
		if (!v || json_object_object_add(obj, json_key(d, f, flags, buf), v) < 0) {
			json_object_put(v);
			json_object_put(obj);
			return NULL;
		}
	}
	return obj;
}

int pbjson_to_json(const ProtobufCMessage *msg, int flags, struct json_object **out, struct err *e)
{
	*out = msg_to_json(msg, flags);
	if (!*out)
		return err_set(e, ENOMEM, "pbjson: out of memory converting %s",
		               msg->descriptor->name);
	return 0;
}

int pbjson_to_string(const ProtobufCMessage *msg, int flags, char **out, struct err *e)
{
	struct json_object *obj;
	int jflags = JSON_C_TO_STRING_NOSLASHESCAPE |
	             (flags & PBJSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
	                                    : JSON_C_TO_STRING_PLAIN);

	if (pbjson_to_json(msg, flags, &obj, e) < 0)
		return -1;
	*out = strdup(json_object_to_json_string_ext(obj, jflags));
	json_object_put(obj);
	if (!*out)
		return err_set(e, ENOMEM, "pbjson: out of memory");
	return 0;
}

/* ---- JSON -> message --------------------------------------------------- */

static int msg_from_json(ProtobufCMessage *m, struct json_object *obj, int flags, const char *path,
                         struct err *e);

/* A field's path for error messages; long ones are cut. */
static void child_path(char out[PATH_MAX_LEN], const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void child_path(char out[PATH_MAX_LEN], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, PATH_MAX_LEN, fmt, ap);
	va_end(ap);
}

static const char *where(const char *path)
{
	return *path ? path : "(top level)";
}

static const char *json_type_desc(struct json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/* An integer from a JSON number or a decimal string, in [min, max]. */
static int get_signed(struct json_object *v, int64_t min, int64_t max, int64_t *out,
                      const char *path, struct err *e)
{
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		if (*out == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
			return err_set(e, ERANGE, "%s: %" PRIu64 " out of range", path,
			               json_object_get_uint64(v));
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end;

		errno = 0;
		*out = strtoll(s, &end, 10);
		if (!*s || *end || errno)
			return err_set(e, EINVAL, "%s: '%s' is not an integer", path, s);
	} else {
		return err_set(e, EINVAL, "%s: expected an integer, got %s", path,
		               json_type_desc(v));
	}
	if (*out < min || *out > max)
		return err_set(e, ERANGE, "%s: %" PRId64 " out of range", path, *out);
	return 0;
}

static int get_unsigned(struct json_object *v, uint64_t max, uint64_t *out, const char *path,
                        struct err *e)
{
	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			return err_set(e, ERANGE, "%s: %" PRId64 " is negative", path,
			               json_object_get_int64(v));
		*out = json_object_get_uint64(v);
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end;

		errno = 0;
		*out = strtoull(s, &end, 10);
		if (!*s || *end || errno || *s == '-')
			return err_set(e, EINVAL, "%s: '%s' is not an unsigned integer", path, s);
	} else {
		return err_set(e, EINVAL, "%s: expected an integer, got %s", path,
		               json_type_desc(v));
	}
	if (*out > max)
		return err_set(e, ERANGE, "%s: %" PRIu64 " out of range", path, *out);
	return 0;
}

static ProtobufCMessage *new_msg(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = malloc(d->sizeof_message);

	if (m)
		protobuf_c_message_init(d, m);
	return m;
}

static int value_from_json(const ProtobufCFieldDescriptor *f, void *slot, struct json_object *v,
                           int flags, const char *path, struct err *e)
{
	int64_t i;
	uint64_t u;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (get_signed(v, INT32_MIN, INT32_MAX, &i, path, e) < 0)
			return -1;
		*(int32_t *)slot = (int32_t)i;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (get_unsigned(v, UINT32_MAX, &u, path, e) < 0)
			return -1;
		*(uint32_t *)slot = (uint32_t)u;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return get_signed(v, INT64_MIN, INT64_MAX, slot, path, e);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return get_unsigned(v, UINT64_MAX, slot, path, e);
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		double d;

		if (!json_object_is_type(v, json_type_double) &&
		    !json_object_is_type(v, json_type_int))
			return err_set(e, EINVAL, "%s: expected a number, got %s", path,
			               json_type_desc(v));
		d = json_object_get_double(v);
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)slot = (float)d;
		else
			*(double *)slot = d;
		return 0;
	}
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return err_set(e, EINVAL, "%s: expected true or false, got %s", path,
			               json_type_desc(v));
		*(protobuf_c_boolean *)slot = json_object_get_boolean(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;
		const ProtobufCEnumValue *ev;

		if (json_object_is_type(v, json_type_int)) {
			if (get_signed(v, INT32_MIN, INT32_MAX, &i, path, e) < 0)
				return -1;
			*(int *)slot = (int)i;
			return 0;
		}
		if (!json_object_is_type(v, json_type_string))
			return err_set(e, EINVAL, "%s: expected a %s name, got %s", path, ed->name,
			               json_type_desc(v));
		ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_object_get_string(v));
		if (!ev)
			return err_set(e, EINVAL, "%s: '%s' is not a %s", path,
			               json_object_get_string(v), ed->name);
		*(int *)slot = ev->value;
		return 0;
	}
	case PROTOBUF_C_TYPE_STRING: {
		char *s;

		if (!json_object_is_type(v, json_type_string))
			return err_set(e, EINVAL, "%s: expected a string, got %s", path,
			               json_type_desc(v));
		s = strdup(json_object_get_string(v));
		if (!s)
			return err_set(e, ENOMEM, "%s: out of memory", path);
		*(char **)slot = s;
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES:
		if (!json_object_is_type(v, json_type_string))
			return err_set(e, EINVAL, "%s: expected a base64 string, got %s", path,
			               json_type_desc(v));
		if (b64_decode(json_object_get_string(v), slot) < 0)
			return err_set(e, EINVAL, "%s: invalid base64", path);
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage *sub = new_msg(f->descriptor);

		if (!sub)
			return err_set(e, ENOMEM, "%s: out of memory", path);
		/* Linked first, so that freeing the parent frees it on error. */
		*(ProtobufCMessage **)slot = sub;
		return msg_from_json(sub, v, flags, path, e);
	}
	}
	return err_set(e, EINVAL, "%s: unsupported field type %d", path, (int)f->type);
}

static int map_key_from_string(const ProtobufCFieldDescriptor *kf, void *slot, const char *key,
                               const char *path, struct err *e)
{
	struct json_object *k;
	int r;

	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		if (strcmp(key, "true") && strcmp(key, "false"))
			return err_set(e, EINVAL, "%s: key '%s' is not a bool", path, key);
		*(protobuf_c_boolean *)slot = !strcmp(key, "true");
		return 0;
	}
	/* Integers parse from strings; strings stay strings. */
	k = json_object_new_string(key);
	if (!k)
		return err_set(e, ENOMEM, "%s: out of memory", path);
	r = value_from_json(kf, slot, k, 0, path, e);
	json_object_put(k);
	return r;
}

static int map_from_json(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                         struct json_object *v, int flags, const char *path, struct err *e)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	size_t *n = quantifier(m, f);
	ProtobufCMessage **arr;

	if (!json_object_is_type(v, json_type_object))
		return err_set(e, EINVAL, "%s: expected an object, got %s", path,
		               json_type_desc(v));
	arr = calloc((size_t)json_object_object_length(v) + 1, sizeof(*arr));
	if (!arr)
		return err_set(e, ENOMEM, "%s: out of memory", path);
	*(ProtobufCMessage ***)member(m, f) = arr;
	*n = 0;
	json_object_object_foreach(v, key, val)
	{
		char sub[PATH_MAX_LEN];

		child_path(sub, "%s.%s", path, key);
		arr[*n] = new_msg(ed);
		if (!arr[*n])
			return err_set(e, ENOMEM, "%s: out of memory", sub);
		(*n)++;
		if (map_key_from_string(&ed->fields[0], member(arr[*n - 1], &ed->fields[0]), key,
		                        sub, e) < 0)
			return -1;
		if (!json_object_is_type(val, json_type_null) &&
		    value_from_json(&ed->fields[1], member(arr[*n - 1], &ed->fields[1]), val, flags,
		                    sub, e) < 0)
			return -1;
	}
	return 0;
}

static int repeated_from_json(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                              struct json_object *v, int flags, const char *path, struct err *e)
{
	size_t *n = quantifier(m, f), size = type_size(f->type), len;
	char *arr;

	if (is_map(f))
		return map_from_json(m, f, v, flags, path, e);
	if (!json_object_is_type(v, json_type_array))
		return err_set(e, EINVAL, "%s: expected an array, got %s", path, json_type_desc(v));
	len = json_object_array_length(v);
	arr = calloc(len + 1, size);
	if (!arr)
		return err_set(e, ENOMEM, "%s: out of memory", path);
	*(char **)member(m, f) = arr;
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *el = json_object_array_get_idx(v, i);
		char sub[PATH_MAX_LEN];

		child_path(sub, "%s[%zu]", path, i);
		if (json_object_is_type(el, json_type_null))
			return err_set(e, EINVAL, "%s: null in an array", sub);
		/* Counted before filling: a half-built element is freed too. */
		(*n)++;
		if (value_from_json(f, arr + i * size, el, flags, sub, e) < 0) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*(void **)(arr + i * size))
				(*n)--;
			return -1;
		}
	}
	return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *key, int flags)
{
	for (unsigned i = 0; i < d->n_fields; i++) {
		char buf[KEY_MAX];

		if (!strcmp(json_key(d, &d->fields[i], flags, buf), key))
			return &d->fields[i];
	}
	return NULL;
}

static int field_from_json(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                           struct json_object *v, int flags, const char *path, struct err *e)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return repeated_from_json(m, f, v, flags, path, e);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t *which = quantifier(m, f);

		if (*which && *which != f->id)
			return err_set(e, EINVAL, "%s: another member of its oneof is already set",
			               path);
		*which = f->id;
	} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
	           f->type != PROTOBUF_C_TYPE_MESSAGE) {
		*(protobuf_c_boolean *)quantifier(m, f) = 1;
	}
	return value_from_json(f, member(m, f), v, flags, path, e);
}

static int msg_from_json(ProtobufCMessage *m, struct json_object *obj, int flags, const char *path,
                         struct err *e)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (!json_object_is_type(obj, json_type_object))
		return err_set(e, EINVAL, "%s: expected an object for %s, got %s", where(path),
		               d->name, json_type_desc(obj));
	json_object_object_foreach(obj, key, val)
	{
		const ProtobufCFieldDescriptor *f = find_field(d, key, flags);
		char sub[PATH_MAX_LEN];

		child_path(sub, "%s%s%s", path, *path ? "." : "", key);
		if (!f) {
			if (flags & PBJSON_LENIENT)
				continue;
			return err_set(e, EINVAL, "%s: unknown field (%s has no such field)", sub,
			               d->name);
		}
		if (json_object_is_type(val, json_type_null))
			continue;
		if (field_from_json(m, f, val, flags, sub, e) < 0)
			return -1;
	}
	return 0;
}

int pbjson_from_json(const ProtobufCMessageDescriptor *desc, struct json_object *obj, int flags,
                     ProtobufCMessage **out, struct err *e)
{
	ProtobufCMessage *m = new_msg(desc);

	if (!m)
		return err_set(e, ENOMEM, "pbjson: out of memory");
	if (msg_from_json(m, obj, flags, "", e) < 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		return -1;
	}
	*out = m;
	return 0;
}

int pbjson_from_string(const ProtobufCMessageDescriptor *desc, const char *json, int flags,
                       ProtobufCMessage **out, struct err *e)
{
	enum json_tokener_error jerr;
	struct json_object *obj = json_tokener_parse_verbose(json, &jerr);
	int r;

	if (!obj)
		return err_set(e, EINVAL, "invalid JSON: %s", json_tokener_error_desc(jerr));
	r = pbjson_from_json(desc, obj, flags, out, e);
	json_object_put(obj);
	return r;
}
