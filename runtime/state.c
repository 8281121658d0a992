/* runtime/state.c: per-container state files under the state root (default
 * /run/hako), JSON via json-c, atomic replace and flock-based locking. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "lib/util.h"
#include "runtime/state.h"

#define STATE_FILE_MAX (1u << 20)

static const char *const status_names[] = {"created", "running", "paused", "stopped"};

const char *state_status_name(enum state_status status)
{
	return (unsigned int)status < ARRAY_SIZE(status_names) ? status_names[status] : "unknown";
}

int state_status_parse(const char *name, enum state_status *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++) {
		if (!strcmp(status_names[i], name)) {
			*out = (enum state_status)i;
			return 0;
		}
	}
	return -1;
}

int state_check_id(const char *id, struct err *e)
{
	size_t n = strlen(id);

	if (n == 0)
		return err_set(e, EINVAL, "container ID cannot be empty");
	if (n > STATE_ID_MAX)
		return err_set(e, EINVAL, "container ID is longer than %d characters",
		               STATE_ID_MAX);
	if (!strcmp(id, ".") || !strcmp(id, ".."))
		return err_set(e, EINVAL, "invalid container ID '%s'", id);
	for (const char *p = id; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return err_set(e, EINVAL,
			               "invalid container ID '%s': only letters, digits and _+-. "
			               "are allowed",
			               id);
	}
	return 0;
}

int state_dir(const char *root, const char *id, char *buf, size_t size, struct err *e)
{
	if (state_check_id(id, e) < 0)
		return -1;
	if ((size_t)snprintf(buf, size, "%s/%s", root, id) >= size)
		return err_set(e, ENAMETOOLONG, "state path too long: %s/%s", root, id);
	return 0;
}

/* <root>/<id>/<name> */
static int state_file(const char *root, const char *id, const char *name, char *buf, size_t size,
                      struct err *e)
{
	if (state_check_id(id, e) < 0)
		return -1;
	if ((size_t)snprintf(buf, size, "%s/%s/%s", root, id, name) >= size)
		return err_set(e, ENAMETOOLONG, "state path too long: %s/%s", root, id);
	return 0;
}

void state_now_rfc3339(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%09ldZ", (long)ts.tv_nsec);
}

/* Fields of /proc/PID/stat: the state letter and the start time. */
static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64];
	cleanup_free char *stat = NULL;
	struct err e;
	const char *p;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (util_read_file(path, 4096, &stat, NULL, &e) < 0)
		return -1;
	/* The command name may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(stat, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	*state = p[2];
	/* After ") " come fields 3..; starttime is field 22. */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	*start = p ? strtoull(p + 1, NULL, 10) : 0;
	return 0;
}

unsigned long long state_proc_start(pid_t pid)
{
	unsigned long long start;
	char st;

	return proc_stat(pid, &st, &start) == 0 ? start : 0;
}

static int lock_open(const char *path, const char *id, int flags, int *lock_fd, struct err *e)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | flags, 0600);

	if (fd < 0) {
		if (errno == ENOENT)
			return err_set(e, ENOENT, "container %s does not exist", id);
		return err_sys(e, "open %s", path);
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			err_sys(e, "lock %s", path);
			close(fd);
			return -1;
		}
	}
	*lock_fd = fd;
	return 0;
}

int state_lock(const char *root, const char *id, int *lock_fd, struct err *e)
{
	char path[PATH_MAX];
	struct stat st, held;
	int fd;

	if (state_file(root, id, "lock", path, sizeof(path), e) < 0)
		return -1;
	if (lock_open(path, id, 0, &fd, e) < 0)
		return -1;
	/* The container may have been deleted (and maybe created anew) while
	 * we waited: the lock is only good if it is still the file at path. */
	if (stat(path, &st) < 0 || fstat(fd, &held) < 0 || st.st_ino != held.st_ino ||
	    st.st_dev != held.st_dev) {
		close(fd);
		return err_set(e, ENOENT, "container %s does not exist", id);
	}
	*lock_fd = fd;
	return 0;
}

void state_unlock(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);
}

static int add_str(struct json_object *o, const char *key, const char *value)
{
	return json_object_object_add(o, key, json_object_new_string(value ? value : ""));
}

static int add_int(struct json_object *o, const char *key, long long value)
{
	return json_object_object_add(o, key, json_object_new_int64(value));
}

int state_save(const char *root, const struct state *s, struct err *e)
{
	char path[PATH_MAX];
	struct json_object *o, *ann;
	const char *text;
	int ret;

	if (state_file(root, s->id, "state.json", path, sizeof(path), e) < 0)
		return -1;
	o = json_object_new_object();
	ann = json_object_new_object();
	if (!o || !ann) {
		json_object_put(o);
		json_object_put(ann);
		return err_set(e, ENOMEM, "out of memory");
	}
	add_str(o, "id", s->id);
	add_int(o, "owner_pid", s->owner_pid);
	json_object_object_add(o, "owner_start", json_object_new_uint64(s->owner_start));
	add_int(o, "monitor_pid", s->monitor_pid);
	add_int(o, "pid", s->pid);
	add_str(o, "status", state_status_name(s->status));
	add_str(o, "bundle", s->bundle);
	add_str(o, "rootfs", s->rootfs);
	add_str(o, "created", s->created);
	add_str(o, "hypervisor", s->hypervisor);
	add_str(o, "sandbox_id", s->sandbox_id);
	for (size_t i = 0; i < s->nr_annotations; i++)
		add_str(ann, s->annotations[i].key, s->annotations[i].value);
	json_object_object_add(o, "annotations", ann);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ret = text ? util_write_file(path, text, strlen(text), 0600, e)
	           : err_set(e, ENOMEM, "out of memory");
	json_object_put(o);
	return ret;
}

int state_create(const char *root, const struct state *s, int *lock_fd, struct err *e)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int fd;

	if (state_dir(root, s->id, dir, sizeof(dir), e) < 0)
		return -1;
	if (util_mkdir_p(root, 0711, e) < 0)
		return err_ctx(e, "state root");
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return err_set(e, EEXIST, "container ID %s already exists", s->id);
		return err_sys(e, "mkdir %s", dir);
	}
	if (state_file(root, s->id, "lock", path, sizeof(path), e) < 0)
		goto fail;
	if (lock_open(path, s->id, O_CREAT | O_EXCL, &fd, e) < 0)
		goto fail;
	if (state_save(root, s, e) < 0) {
		close(fd);
		goto fail;
	}
	*lock_fd = fd;
	return 0;
fail : {
	struct err e2;

	util_rm_rf(dir, &e2);
}
	return -1;
}

static int dup_field(struct json_object *o, const char *key, char **out, struct err *e)
{
	struct json_object *v;
	const char *s = "";

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		s = json_object_get_string(v);
	*out = strdup(s);
	return *out ? 0 : err_set(e, ENOMEM, "out of memory");
}

static long long get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

int state_set_annotation(struct state *s, const char *key, const char *value, struct err *e)
{
	struct state_annotation *na;
	char *v = strdup(value);

	if (!v)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < s->nr_annotations; i++) {
		if (!strcmp(s->annotations[i].key, key)) {
			free(s->annotations[i].value);
			s->annotations[i].value = v;
			return 0;
		}
	}
	na = realloc(s->annotations, (s->nr_annotations + 1) * sizeof(*na));
	if (!na) {
		free(v);
		return err_set(e, ENOMEM, "out of memory");
	}
	s->annotations = na;
	na[s->nr_annotations].key = strdup(key);
	na[s->nr_annotations].value = v;
	if (!na[s->nr_annotations].key) {
		free(v);
		return err_set(e, ENOMEM, "out of memory");
	}
	s->nr_annotations++;
	return 0;
}

const char *state_annotation(const struct state *s, const char *key)
{
	for (size_t i = 0; i < s->nr_annotations; i++)
		if (!strcmp(s->annotations[i].key, key))
			return s->annotations[i].value;
	return NULL;
}

static bool owner_gone(const struct state *s)
{
	unsigned long long start;
	char st;

	if (s->owner_pid <= 0)
		return false;
	if (proc_stat(s->owner_pid, &st, &start) < 0)
		return kill(s->owner_pid, 0) < 0 && errno == ESRCH;
	/* Exited but not yet reaped by its parent. */
	if (st == 'Z' || st == 'X')
		return true;
	/* Same pid, different start time: the owner died and the pid was reused. */
	return s->owner_start && start != s->owner_start;
}

static int parse_state(const char *id, const char *text, const char *path, struct state **out,
                       struct err *e)
{
	struct json_object *o = json_tokener_parse(text), *v;
	struct state *s = NULL;
	const char *status;

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return err_set(e, EINVAL, "%s: not a JSON object", path);
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		json_object_put(o);
		return err_set(e, ENOMEM, "out of memory");
	}
	s->owner_pid = (pid_t)get_int(o, "owner_pid");
	s->owner_start = json_object_object_get_ex(o, "owner_start", &v)
	                         ? (unsigned long long)json_object_get_uint64(v)
	                         : 0;
	s->monitor_pid = (pid_t)get_int(o, "monitor_pid");
	s->pid = (pid_t)get_int(o, "pid");
	status = json_object_object_get_ex(o, "status", &v) ? json_object_get_string(v) : "";
	if (state_status_parse(status, &s->status) < 0) {
		err_set(e, EINVAL, "%s: unknown status '%s'", path, status);
		goto fail;
	}
	if (dup_field(o, "id", &s->id, e) < 0 || dup_field(o, "bundle", &s->bundle, e) < 0 ||
	    dup_field(o, "rootfs", &s->rootfs, e) < 0 ||
	    dup_field(o, "created", &s->created, e) < 0 ||
	    dup_field(o, "hypervisor", &s->hypervisor, e) < 0 ||
	    dup_field(o, "sandbox_id", &s->sandbox_id, e) < 0)
		goto fail;
	if (strcmp(s->id, id)) {
		err_set(e, EINVAL, "%s: holds id '%s'", path, s->id);
		goto fail;
	}
	if (json_object_object_get_ex(o, "annotations", &v) &&
	    json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val)
		{
			if (state_set_annotation(s, key, json_object_get_string(val), e) < 0)
				goto fail;
		}
	}
	json_object_put(o);
	if (s->status != STATE_STOPPED && owner_gone(s))
		s->status = STATE_STOPPED;
	*out = s;
	return 0;
fail:
	json_object_put(o);
	state_free(s);
	return -1;
}

int state_load(const char *root, const char *id, struct state **out, struct err *e)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;

	if (state_file(root, id, "state.json", path, sizeof(path), e) < 0)
		return -1;
	if (util_read_file(path, STATE_FILE_MAX, &text, NULL, e) < 0) {
		if (e->errnum == ENOENT || e->errnum == ENOTDIR)
			return err_set(e, ENOENT, "container %s does not exist", id);
		return -1;
	}
	return parse_state(id, text, path, out, e);
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void state_list_free(char **ids)
{
	for (size_t i = 0; ids && ids[i]; i++)
		free(ids[i]);
	free(ids);
}

int state_list(const char *root, char ***out, struct err *e)
{
	char **ids = calloc(1, sizeof(char *));
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	if (!ids)
		return err_set(e, ENOMEM, "out of memory");
	d = opendir(root);
	if (!d) {
		if (errno == ENOENT) {
			*out = ids;
			return 0;
		}
		free(ids);
		return err_sys(e, "open state root %s", root);
	}
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct err ignored;
		char **nids;

		if (state_check_id(de->d_name, &ignored) < 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s/state.json", root, de->d_name) >=
		            sizeof(path) ||
		    access(path, F_OK) < 0)
			continue;
		nids = realloc(ids, (n + 2) * sizeof(*nids));
		if (!nids)
			goto nomem;
		ids = nids;
		ids[n] = strdup(de->d_name);
		ids[n + 1] = NULL;
		if (!ids[n])
			goto nomem;
		n++;
	}
	closedir(d);
	qsort(ids, n, sizeof(*ids), id_cmp);
	*out = ids;
	return 0;
nomem:
	closedir(d);
	state_list_free(ids);
	return err_set(e, ENOMEM, "out of memory");
}

int state_remove(const char *root, const char *id, struct err *e)
{
	char dir[PATH_MAX];

	if (state_dir(root, id, dir, sizeof(dir), e) < 0)
		return -1;
	if (util_rm_rf(dir, e) < 0)
		return err_ctx(e, "remove state of %s", id);
	return 0;
}

void state_free(struct state *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->bundle);
	free(s->rootfs);
	free(s->created);
	free(s->hypervisor);
	free(s->sandbox_id);
	for (size_t i = 0; i < s->nr_annotations; i++) {
		free(s->annotations[i].key);
		free(s->annotations[i].value);
	}
	free(s->annotations);
	free(s);
}
