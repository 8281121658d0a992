/* shim/start.c: the start protocol containerd 1.6 drives a runtime v2 shim
 * with (see shim.h): flags, socket address, `start` and `delete`. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "proto/containerd/shim.pb-c.h"
#include "runtime/bundle.h"
#include "runtime/state.h"
#include "shim/shim.h"

/* ---- flags --------------------------------------------------------------- */

struct flag {
	const char *name;
	size_t off; /* offset of the const char * (or bool) in shim_args */
	bool is_bool;
};

static const struct flag flags[] = {
        {"namespace", offsetof(struct shim_args, namespace_), false},
        {"address", offsetof(struct shim_args, address), false},
        {"publish-binary", offsetof(struct shim_args, publish_binary), false},
        {"id", offsetof(struct shim_args, id), false},
        {"bundle", offsetof(struct shim_args, bundle), false},
        {"socket", offsetof(struct shim_args, socket), false},
        {"debug", offsetof(struct shim_args, debug), true},
};

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int shim_args_parse(int argc, char *const *argv, struct shim_args *a, struct err *e)
{
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq;
		const struct flag *f = NULL;
		size_t len;

		if (arg[0] != '-' || !arg[1])
			break;
		name = arg + 1;
		if (name[0] == '-') {
			name++;
			if (!name[0]) { /* "--" ends the flags */
				i++;
				break;
			}
		}
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		for (size_t k = 0; k < ARRAY_SIZE(flags); k++)
			if (strlen(flags[k].name) == len && !strncmp(flags[k].name, name, len))
				f = &flags[k];
		if (!f)
			return err_set(e, EINVAL, "flag provided but not defined: -%.*s", (int)len,
			               name);
		if (f->is_bool) {
			bool *b = (bool *)((char *)a + f->off);

			*b = true;
			if (eq && parse_bool(eq + 1, b) < 0)
				return err_set(e, EINVAL, "invalid boolean value \"%s\" for -%s",
				               eq + 1, f->name);
			continue;
		}
		if (!eq && i + 1 >= argc)
			return err_set(e, EINVAL, "flag needs an argument: -%s", f->name);
		*(const char **)((char *)a + f->off) = eq ? eq + 1 : argv[++i];
	}
	if (i < argc)
		a->action = argv[i++];
	if (i < argc)
		return err_set(e, EINVAL, "unexpected argument '%s' after %s", argv[i], a->action);
	if (a->action && strcmp(a->action, "start") && strcmp(a->action, "delete"))
		return err_set(e, EINVAL, "unknown action '%s' (start, delete)", a->action);
	if (!a->namespace_ || !a->namespace_[0])
		return err_set(e, EINVAL, "shim namespace cannot be empty (-namespace)");
	if (!a->id || !a->id[0])
		return err_set(e, EINVAL, "shim id cannot be empty (-id)");
	return 0;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* ---- addresses ------------------------------------------------------------ */

/* Go's filepath.Join(a, b, c): join the non-empty parts with '/', then
 * Clean (no "//", no ".", ".." resolved, no trailing '/'). */
static int go_join(const char *const *parts, size_t n, char *buf, size_t size, struct err *e)
{
	char tmp[PATH_MAX * 2] = "", *comp[PATH_MAX], *save = NULL, *tok;
	size_t nc = 0, out = 0;
	bool rooted;

	for (size_t i = 0; i < n; i++) {
		if (!parts[i][0])
			continue;
		if (strlen(tmp) + strlen(parts[i]) + 2 > sizeof(tmp))
			return err_set(e, ENAMETOOLONG, "path too long");
		if (tmp[0])
			strcat(tmp, "/");
		strcat(tmp, parts[i]);
	}
	rooted = tmp[0] == '/';
	for (tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..") && nc && strcmp(comp[nc - 1], "..")) {
			nc--;
			continue;
		}
		if (!strcmp(tok, "..") && rooted) /* "/.." is "/" */
			continue;
		comp[nc++] = tok;
	}
	if (!rooted && !nc)
		comp[nc++] = ".";
	buf[0] = 0;
	if (rooted)
		out = (size_t)snprintf(buf, size, "/");
	for (size_t i = 0; i < nc && out < size; i++)
		out += (size_t)snprintf(buf + out, size - out, "%s%s", i ? "/" : "", comp[i]);
	if (out >= size)
		return err_set(e, ENAMETOOLONG, "path too long");
	return 0;
}

/* SHA-256 of containerd's address, the namespace and name joined as Go's
 * filepath.Join does: the names containerd derives sockets and dirs from. */
static int joined_digest(const char *containerd_address, const char *ns, const char *name,
                         uint8_t digest[32], struct err *e)
{
	const char *parts[] = {containerd_address ? containerd_address : "", ns, name};
	char joined[PATH_MAX * 2];

	if (go_join(parts, 3, joined, sizeof(joined), e) < 0)
		return -1;
	sha256(joined, strlen(joined), digest);
	return 0;
}

int shim_socket_address(const char *containerd_address, const char *ns, const char *id, char *buf,
                        size_t size, struct err *e)
{
	char digest_hex[65];
	uint8_t digest[32];

	if (joined_digest(containerd_address, ns, id, digest, e) < 0)
		return err_ctx(e, "shim address");
	hex(digest, sizeof(digest), digest_hex);
	if ((size_t)snprintf(buf, size, "unix://%s/%s", SHIM_SOCKET_DIR, digest_hex) >= size)
		return err_set(e, ENAMETOOLONG, "shim address: buffer too small");
	return 0;
}

int shim_run_dir(const char *containerd_address, const char *ns, const char *group, char *buf,
                 size_t size, struct err *e)
{
	char h[17];
	uint8_t digest[32];

	if (joined_digest(containerd_address, ns, group, digest, e) < 0)
		return err_ctx(e, "run directory");
	hex(digest, 8, h);
	if ((size_t)snprintf(buf, size, "%s/%s", SHIM_RUN_ROOT, h) >= size)
		return err_set(e, ENAMETOOLONG, "run directory: buffer too small");
	return 0;
}

int shim_grouping_id(const char *bundle_dir, const char *id, char **out, struct err *e)
{
	cleanup_free char *path = NULL, *text = NULL;
	struct json_object *cfg = NULL, *ann, *v;
	const char *type = NULL, *sandbox = NULL;

	if (asprintf(&path, "%s/config.json", bundle_dir) < 0)
		return err_set(e, ENOMEM, "out of memory");
	if (util_read_file(path, 16u << 20, &text, NULL, e) < 0) {
		if (e->errnum != ENOENT)
			return -1;
		err_clear(e);
	} else {
		cfg = json_tokener_parse(text);
		if (!cfg)
			return err_set(e, EINVAL, "%s: not valid JSON", path);
		if (json_object_object_get_ex(cfg, "annotations", &ann)) {
			if (json_object_object_get_ex(ann, BUNDLE_ANN_CONTAINER_TYPE, &v))
				type = json_object_get_string(v);
			if (json_object_object_get_ex(ann, BUNDLE_ANN_SANDBOX_ID, &v))
				sandbox = json_object_get_string(v);
		}
	}
	if (type && sandbox && sandbox[0] && !strcmp(type, "container"))
		id = sandbox;
	*out = strdup(id);
	json_object_put(cfg);
	if (!*out)
		return err_set(e, ENOMEM, "out of memory");
	return 0;
}

/* ---- start ---------------------------------------------------------------- */

static const char *socket_path(const char *address)
{
	return !strncmp(address, "unix://", 7) ? address + 7 : address;
}

static int unix_addr(const char *path, struct sockaddr_un *sa, struct err *e)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return err_set(e, ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sa->sun_path, path);
	return 0;
}

/* Is a shim serving path? */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sa;
	struct err e;
	int fd, r;

	if (unix_addr(path, &sa, &e) < 0)
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r == 0;
}

static int listen_at(const char *path, int *out, struct err *e)
{
	struct sockaddr_un sa;
	cleanup_close int fd = -1;

	if (unix_addr(path, &sa, e) < 0)
		return -1;
	if (util_mkdir_p(SHIM_SOCKET_DIR, 0711, e) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* a stale socket of a shim that is gone */
		if (errno != EADDRINUSE || unlink(path) < 0 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return err_sys(e, "bind %s", path);
	}
	if (chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		err_sys(e, "listen on %s", path);
		unlink(path);
		return -1;
	}
	*out = steal_fd(fd);
	return 0;
}

/* Launch the server: this binary with the same flags and no action, the
 * listening socket as fd 3, in its own session, stdio on /dev/null. */
static int spawn_server(const struct shim_args *a, int listen_fd, struct err *e)
{
	const char *argv[16];
	char self[PATH_MAX] = "";
	size_t n = 0;
	pid_t pid;

	argv[n++] = "containerd-shim-hako-v2";
	argv[n++] = "-namespace";
	argv[n++] = a->namespace_;
	argv[n++] = "-id";
	argv[n++] = a->id;
	if (a->address) {
		argv[n++] = "-address";
		argv[n++] = a->address;
	}
	if (a->publish_binary) {
		argv[n++] = "-publish-binary";
		argv[n++] = a->publish_binary;
	}
	if (a->debug)
		argv[n++] = "-debug";
	argv[n] = NULL;

	pid = fork();
	if (pid < 0)
		return err_sys(e, "fork");
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		if (listen_fd == 3)
			fcntl(3, F_SETFD, 0);
		else if (dup2(listen_fd, 3) < 0)
			_exit(127);
		/* the binary's own path, so that the server's comm is its name */
		if (readlink("/proc/self/exe", self, sizeof(self) - 1) > 0)
			execv(self, (char *const *)argv);
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	return 0;
}

int shim_start(const struct shim_args *a, char *addr, size_t size, struct err *e)
{
	cleanup_free char *group = NULL, *cwd = NULL, *addr_file = NULL;
	cleanup_close int fd = -1;
	const char *bundle = a->bundle;

	if (!bundle) {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return err_sys(e, "getcwd");
		bundle = cwd;
	}
	if (shim_grouping_id(bundle, a->id, &group, e) < 0 ||
	    shim_socket_address(a->address, a->namespace_, group, addr, size, e) < 0)
		return err_ctx(e, "start %s", a->id);
	if (asprintf(&addr_file, "%s/address", bundle) < 0)
		return err_set(e, ENOMEM, "out of memory");
	if (!socket_alive(socket_path(addr))) {
		if (listen_at(socket_path(addr), &fd, e) < 0 || spawn_server(a, fd, e) < 0)
			return err_ctx(e, "start %s", a->id);
	} else {
		log_debug("start %s: reusing the shim of pod %s at %s", a->id, group, addr);
	}
	if (util_write_file(addr_file, addr, strlen(addr), 0644, e) < 0)
		return err_ctx(e, "start %s", a->id);
	return 0;
}

/* ---- delete --------------------------------------------------------------- */

/* Unmount everything at or below dir, deepest first. */
static void unmount_below(const char *dir)
{
	size_t dl = strlen(dir);
	bool again = true;

	for (int pass = 0; again && pass < 64; pass++) {
		cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
		char line[4096], mnt[4096], deepest[4096] = "";

		again = false;
		if (!f)
			return;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
				continue;
			if (strncmp(mnt, dir, dl) || (mnt[dl] && mnt[dl] != '/'))
				continue;
			if (strlen(mnt) >= strlen(deepest))
				snprintf(deepest, sizeof(deepest), "%s", mnt);
		}
		if (deepest[0] && umount2(deepest, MNT_DETACH) == 0)
			again = true;
	}
}

/* The VM a dead shim left: its pid and start time in <run>/vm.pid. */
static void kill_leftover_vm(const char *run_dir)
{
	cleanup_free char *path = NULL, *text = NULL;
	unsigned long long start = 0;
	struct err e;
	int pid = 0;

	if (asprintf(&path, "%s/vm.pid", run_dir) < 0 ||
	    util_read_file(path, 256, &text, NULL, &e) < 0)
		return;
	if (sscanf(text, "%d %llu", &pid, &start) == 2 && pid > 1 &&
	    state_proc_start(pid) == start) {
		log_info("delete: killing the VM (pid %d) a dead shim left", pid);
		kill(pid, SIGKILL);
	}
}

int shim_delete(const struct shim_args *a, uint8_t **out, size_t *len, struct err *e)
{
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	cleanup_free char *group = NULL, *cwd = NULL, *rootfs = NULL;
	char addr[SHIM_ADDRESS_MAX], run_dir[256];
	const char *bundle = a->bundle;
	struct timespec now;

	if (!bundle) {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return err_sys(e, "getcwd");
		bundle = cwd;
	}
	if (asprintf(&rootfs, "%s/rootfs", bundle) < 0)
		return err_set(e, ENOMEM, "out of memory");
	if (umount2(rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		log_warn("delete %s: unmount %s: %s", a->id, rootfs, strerror(errno));
	if (shim_grouping_id(bundle, a->id, &group, e) < 0 ||
	    shim_socket_address(a->address, a->namespace_, group, addr, sizeof(addr), e) < 0 ||
	    shim_run_dir(a->address, a->namespace_, group, run_dir, sizeof(run_dir), e) < 0)
		return err_ctx(e, "delete %s", a->id);
	if (!socket_alive(socket_path(addr))) {
		/* the pod's shim is gone: so is the point of its VM */
		kill_leftover_vm(run_dir);
		unmount_below(run_dir);
		if (util_rm_rf(run_dir, e) < 0)
			log_warn("delete %s: %s", a->id, e->msg);
		unlink(socket_path(addr));
	}

	clock_gettime(CLOCK_REALTIME, &now);
	ts.seconds = now.tv_sec;
	ts.nanos = (int32_t)now.tv_nsec;
	resp.exit_status = 128 + SIGKILL;
	resp.exited_at = &ts;
	*len = containerd__task__v2__delete_response__get_packed_size(&resp);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		return err_set(e, ENOMEM, "out of memory");
	containerd__task__v2__delete_response__pack(&resp, *out);
	return 0;
}
