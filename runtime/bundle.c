/* runtime/bundle.c: load and check an OCI bundle's config.json (json-c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "lib/util.h"
#include "runtime/bundle.h"

#define CONFIG_JSON_MAX (4u << 20)

/* runc's default spec, adapted: what `hako spec` writes. */
static const char default_spec[] =
        "{\"ociVersion\": \"" BUNDLE_OCI_VERSION "\","
        "\"process\": {\"terminal\": true, \"user\": {\"uid\": 0, \"gid\": 0},"
        " \"args\": [\"sh\"],"
        " \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
        "  \"TERM=xterm\"],"
        " \"cwd\": \"/\","
        " \"capabilities\": {"
        "  \"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
        "  \"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
        "  \"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]},"
        " \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],"
        " \"noNewPrivileges\": true},"
        "\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
        "\"hostname\": \"hako\","
        "\"mounts\": ["
        " {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
        " {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
        "  \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
        " {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
        "  \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\","
        "   \"mode=0620\", \"gid=5\"]},"
        " {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\","
        "  \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},"
        " {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\","
        "  \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},"
        " {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
        "  \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},"
        " {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\","
        "  \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}],"
        "\"linux\": {"
        " \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},"
        " \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"},"
        "  {\"type\": \"uts\"}, {\"type\": \"mount\"}, {\"type\": \"cgroup\"}],"
        " \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\","
        "  \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\","
        "  \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],"
        " \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\","
        "  \"/proc/sysrq-trigger\"]}}";

int bundle_default_spec(char **json, struct err *e)
{
	struct json_object *o = json_tokener_parse(default_spec);
	const char *text;

	if (!o)
		return err_set(e, EINVAL, "internal: the default spec is not valid JSON");
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
	*json = text ? strdup(text) : NULL;
	json_object_put(o);
	return *json ? 0 : err_set(e, ENOMEM, "out of memory");
}

void bundle_free(struct bundle *b)
{
	if (!b)
		return;
	free(b->dir);
	free(b->rootfs);
	json_object_put(b->spec);
	free(b);
}

const char *bundle_annotation(const struct bundle *b, const char *key)
{
	struct json_object *ann, *v;

	if (!json_object_object_get_ex(b->spec, "annotations", &ann) ||
	    !json_object_object_get_ex(ann, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *bundle_sandbox_id(const struct bundle *b)
{
	const char *id = bundle_annotation(b, BUNDLE_ANN_SANDBOX_ID);

	return id ? id : bundle_annotation(b, BUNDLE_ANN_CRIO_SANDBOX);
}

static enum bundle_kind kind_of(const struct bundle *b)
{
	const char *type = bundle_annotation(b, BUNDLE_ANN_CONTAINER_TYPE);

	if (!type)
		type = bundle_annotation(b, BUNDLE_ANN_CRIO_TYPE);
	if (!type)
		return BUNDLE_STANDALONE;
	return !strcmp(type, "sandbox") ? BUNDLE_SANDBOX : BUNDLE_CONTAINER;
}

/* Line and column of byte offset off in text, for JSON syntax errors. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int parse_json(const char *text, size_t len, struct json_object **out, struct err *e)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	enum json_tokener_error jerr;
	int line, col;

	if (!tok)
		return err_set(e, ENOMEM, "out of memory");
	/* As strict as runc's Go decoder: no trailing commas, no single quotes. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!o || jerr != json_tokener_success || json_tokener_get_parse_end(tok) < len) {
		size_t end = json_tokener_get_parse_end(tok);

		json_object_put(o);
		json_tokener_free(tok);
		line_col(text, end, &line, &col);
		if (jerr == json_tokener_continue || jerr == json_tokener_success)
			return err_set(e, EINVAL, "config.json: invalid JSON at line %d col %d: %s",
			               line, col,
			               jerr == json_tokener_continue ? "unexpected end of file"
			                                             : "trailing data");
		return err_set(e, EINVAL, "config.json: invalid JSON at line %d col %d: %s", line,
		               col, json_tokener_error_desc(jerr));
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return err_set(e, EINVAL, "config.json: not a JSON object");
	}
	*out = o;
	return 0;
}

static int check_spec(struct bundle *b, struct err *e)
{
	struct json_object *v, *process, *root, *args;
	const char *ver, *path;
	char rootfs[PATH_MAX];
	struct stat st;

	if (!json_object_object_get_ex(b->spec, "ociVersion", &v))
		return err_set(e, EINVAL, "config.json: ociVersion: missing");
	if (!json_object_is_type(v, json_type_string))
		return err_set(e, EINVAL, "config.json: ociVersion: must be a string");
	ver = json_object_get_string(v);
	if (strncmp(ver, "1.", 2))
		return err_set(e, EINVAL,
		               "config.json: ociVersion: \"%s\" is not supported (hako reads 1.x, "
		               "written for %s)",
		               ver, BUNDLE_OCI_VERSION);

	if (!json_object_object_get_ex(b->spec, "process", &process)) {
		if (b->kind != BUNDLE_SANDBOX)
			return err_set(e, EINVAL, "config.json: process: missing");
	} else {
		size_t n;

		if (!json_object_is_type(process, json_type_object))
			return err_set(e, EINVAL, "config.json: process: must be an object");
		if (!json_object_object_get_ex(process, "args", &args) ||
		    !json_object_is_type(args, json_type_array) ||
		    (n = json_object_array_length(args)) == 0) {
			if (b->kind != BUNDLE_SANDBOX)
				return err_set(
				        e, EINVAL,
				        "config.json: process.args: must be a non-empty array "
				        "of strings");
		} else {
			for (size_t i = 0; i < n; i++)
				if (!json_object_is_type(json_object_array_get_idx(args, i),
				                         json_type_string))
					return err_set(
					        e, EINVAL,
					        "config.json: process.args[%zu]: must be a string",
					        i);
		}
		if (json_object_object_get_ex(process, "cwd", &v) &&
		    (!json_object_is_type(v, json_type_string) ||
		     json_object_get_string(v)[0] != '/'))
			return err_set(e, EINVAL,
			               "config.json: process.cwd: must be an absolute path");
	}

	if (!json_object_object_get_ex(b->spec, "root", &root) ||
	    !json_object_is_type(root, json_type_object))
		return err_set(e, EINVAL, "config.json: root: missing");
	if (!json_object_object_get_ex(root, "path", &v) ||
	    !json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
		return err_set(e, EINVAL, "config.json: root.path: missing");
	path = json_object_get_string(v);
	if (path[0] == '/')
		snprintf(rootfs, sizeof(rootfs), "%s", path);
	else if ((size_t)snprintf(rootfs, sizeof(rootfs), "%s/%s", b->dir, path) >= sizeof(rootfs))
		return err_set(e, ENAMETOOLONG, "config.json: root.path: too long");
	if (stat(rootfs, &st) < 0)
		return err_sys(e, "config.json: root.path: %s", rootfs);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ENOTDIR, "config.json: root.path: %s: not a directory", rootfs);
	b->rootfs = strdup(rootfs);
	if (!b->rootfs)
		return err_set(e, ENOMEM, "out of memory");
	if (json_object_object_get_ex(root, "readonly", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return err_set(e, EINVAL, "config.json: root.readonly: must be a boolean");
		b->readonly = json_object_get_boolean(v);
	}
	return 0;
}

int bundle_load(const char *dir, struct bundle **out, struct err *e)
{
	char path[PATH_MAX], abs[PATH_MAX];
	cleanup_free char *text = NULL;
	struct bundle *b;
	size_t len;

	if (!realpath(dir, abs))
		return err_sys(e, "bundle %s", dir);
	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", abs) >= sizeof(path))
		return err_set(e, ENAMETOOLONG, "bundle %s: path too long", abs);
	if (util_read_file(path, CONFIG_JSON_MAX, &text, &len, e) < 0) {
		if (e->errnum == ENOENT)
			return err_set(e, ENOENT, "bundle %s: config.json: no such file", abs);
		return err_ctx(e, "bundle %s", abs);
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(e, ENOMEM, "out of memory");
	b->dir = strdup(abs);
	if (!b->dir) {
		err_set(e, ENOMEM, "out of memory");
		goto fail;
	}
	if (parse_json(text, len, &b->spec, e) < 0)
		goto fail;
	b->kind = kind_of(b);
	if (check_spec(b, e) < 0)
		goto fail;
	*out = b;
	return 0;
fail:
	err_ctx(e, "bundle %s", abs);
	bundle_free(b);
	return -1;
}
