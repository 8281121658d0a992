/* runtime/image.c: OCI image layout archive -> root filesystem (see
 * image.h). Tar does the extracting (Debian's GNU tar, a child process). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "runtime/image.h"

#define JSON_MAX (4u << 20)
#define LIST_MAX (256u << 20)

/* Run tar with argv; its stdout into *out (malloc'd, NUL-terminated) when
 * out is not NULL. */
static int run_tar(char *const argv[], char **out, struct err *e)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int p[2] = {-1, -1}, status;
	pid_t pid;

	if (out && pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "pipe");
	pid = fork();
	if (pid < 0) {
		err_sys(e, "fork");
		goto fail;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (out)
			dup2(p[1], STDOUT_FILENO);
		else
			dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp("tar", argv);
		_exit(127);
	}
	if (out) {
		close(p[1]);
		p[1] = -1;
		for (;;) {
			ssize_t r;

			if (n + 4096 + 1 > cap) {
				char *b =
				        cap < LIST_MAX ? realloc(buf, cap ? cap * 2 : 65536) : NULL;

				if (!b) {
					free(buf);
					buf = NULL;
					break;
				}
				buf = b;
				cap = cap ? cap * 2 : 65536;
			}
			r = read(p[0], buf + n, cap - 1 - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			n += (size_t)r;
		}
		close(p[0]);
		p[0] = -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			err_sys(e, "waitpid tar");
			goto fail;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		err_set(e, EIO, "tar %s %s failed (status %d)", argv[1], argv[3],
		        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		goto fail;
	}
	if (out) {
		if (!buf) {
			err_set(e, ENOMEM, "tar %s: listing too large", argv[3]);
			goto fail;
		}
		buf[n] = 0;
		*out = buf;
	}
	return 0;
fail:
	free(buf);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return -1;
}

static int read_json(const char *path, struct json_object **out, struct err *e)
{
	cleanup_free char *text = NULL;
	size_t len;

	if (util_read_file(path, JSON_MAX, &text, &len, e) < 0)
		return -1;
	*out = json_tokener_parse(text);
	if (!*out || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		return err_set(e, EINVAL, "%s: not a JSON object", path);
	}
	return 0;
}

static const char *get_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
	               ? json_object_get_string(v)
	               : NULL;
}

int image_pick_manifest(struct json_object *index, const char **digest, struct err *e)
{
	struct json_object *ms, *m, *pl;
	const char *d = NULL;
	size_t n;

	if (!json_object_object_get_ex(index, "manifests", &ms) ||
	    !json_object_is_type(ms, json_type_array) || !(n = json_object_array_length(ms)))
		return err_set(e, EINVAL, "index.json names no manifest");
	for (size_t i = 0; i < n; i++) {
		const char *arch, *os, *mt;

		m = json_object_array_get_idx(ms, i);
		mt = get_string(m, "mediaType");
		if (mt && strstr(mt, "index"))
			continue;
		if (!json_object_object_get_ex(m, "platform", &pl)) {
			if (!d)
				d = get_string(m, "digest");
			continue;
		}
		arch = get_string(pl, "architecture");
		os = get_string(pl, "os");
		if (arch && os && !strcmp(arch, "amd64") && !strcmp(os, "linux")) {
			d = get_string(m, "digest");
			break;
		}
	}
	if (!d)
		return err_set(e, ENOTSUP,
		               "not supported: an image without a linux/amd64 manifest");
	*digest = d;
	return 0;
}

int image_blob_path(const char *oci, const char *digest, char *out, size_t size, struct err *e)
{
	size_t i;

	if (strncmp(digest, "sha256:", 7))
		return err_set(e, ENOTSUP, "not supported: digest %s (only sha256)", digest);
	for (i = 7; digest[i]; i++)
		if (!((digest[i] >= '0' && digest[i] <= '9') ||
		      (digest[i] >= 'a' && digest[i] <= 'f')))
			break;
	if (digest[i] || i != 7 + 64)
		return err_set(e, EINVAL, "invalid digest %s", digest);
	if ((size_t)snprintf(out, size, "%s/blobs/sha256/%s", oci, digest + 7) >= size)
		return err_set(e, ENAMETOOLONG, "image path too long");
	return 0;
}

int image_whiteout(const char *entry, char *target, size_t size, bool *opaque, struct err *e)
{
	const char *base, *p = entry;
	size_t dlen;

	while (!strncmp(p, "./", 2) || *p == '/')
		p += *p == '/' ? 1 : 2;
	/* no component may be ".." */
	for (const char *c = p; c;) {
		if (!strncmp(c, "..", 2) && (c[2] == '/' || !c[2]))
			return err_set(e, EINVAL, "layer entry %s leaves the root", entry);
		c = strchr(c, '/');
		c = c ? c + 1 : NULL;
	}
	base = strrchr(p, '/');
	base = base ? base + 1 : p;
	if (strncmp(base, ".wh.", 4))
		return 0;
	dlen = (size_t)(base - p);
	while (dlen && p[dlen - 1] == '/')
		dlen--;
	*opaque = !strcmp(base, ".wh..wh..opq");
	if (*opaque) {
		if ((size_t)snprintf(target, size, "%.*s", dlen ? (int)dlen : 1, dlen ? p : ".") >=
		    size)
			return err_set(e, ENAMETOOLONG, "layer entry too long");
		return 1;
	}
	if (!base[4] || !strcmp(base + 4, ".") || !strcmp(base + 4, ".."))
		return err_set(e, EINVAL, "invalid whiteout %s", entry);
	if ((size_t)snprintf(target, size, "%.*s%s%s", (int)dlen, p, dlen ? "/" : "", base + 4) >=
	    size)
		return err_set(e, ENAMETOOLONG, "layer entry too long");
	return 1;
}

/* A JSON array of strings as a NULL-terminated array (NULL when absent). */
static int strv(struct json_object *o, const char *key, char ***out, struct err *e)
{
	struct json_object *a;
	size_t n;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &a) || json_object_is_type(a, json_type_null))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return err_set(e, EINVAL, "image config: %s is not an array", key);
	n = json_object_array_length(a);
	*out = calloc(n + 1, sizeof(char *));
	if (!*out)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(a, i);

		if (!json_object_is_type(s, json_type_string))
			return err_set(e, EINVAL, "image config: %s holds a non-string", key);
		if (!((*out)[i] = strdup(json_object_get_string(s))))
			return err_set(e, ENOMEM, "out of memory");
	}
	return 0;
}

int image_config_parse(struct json_object *config, struct image_config *out, struct err *e)
{
	struct json_object *c;
	const char *s;

	*out = (struct image_config){0};
	if (!json_object_object_get_ex(config, "config", &c) ||
	    !json_object_is_type(c, json_type_object))
		return 0;
	if (strv(c, "Env", &out->env, e) < 0 || strv(c, "Entrypoint", &out->entrypoint, e) < 0 ||
	    strv(c, "Cmd", &out->cmd, e) < 0)
		goto fail;
	if ((s = get_string(c, "WorkingDir")) && *s && !(out->cwd = strdup(s)))
		goto nomem;
	if ((s = get_string(c, "User")) && *s && !(out->user = strdup(s)))
		goto nomem;
	return 0;
nomem:
	err_set(e, ENOMEM, "out of memory");
fail:
	image_config_free(out);
	return -1;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void image_config_free(struct image_config *cfg)
{
	free_strv(cfg->env);
	free_strv(cfg->entrypoint);
	free_strv(cfg->cmd);
	free(cfg->cwd);
	free(cfg->user);
	*cfg = (struct image_config){0};
}

/* Empty dir (an opaque whiteout's); 1 if something stayed. */
static int clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[8192];
	struct err e;
	int bad = 0;

	if (!d)
		return errno != ENOENT;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			bad |= util_rm_rf(path, &e) < 0;
		}
	closedir(d);
	return bad;
}

/* Remove what the listed whiteouts hide, in a child chrooted into rootfs
 * (a symlink of a lower layer cannot lead out of it). */
static int apply_whiteouts(const char *rootfs, char *list, struct err *e)
{
	size_t len = strlen(list);
	char target[4096];
	bool any = false, opaque;
	int status, w;
	pid_t pid;

	for (char *c = list; (c = strchr(c, '\n'));)
		*c++ = 0;
	for (char *l = list; l < list + len; l += strlen(l) + 1) {
		if ((w = image_whiteout(l, target, sizeof(target), &opaque, e)) < 0)
			return -1;
		any |= w;
	}
	if (!any)
		return 0;
	pid = fork();
	if (pid < 0)
		return err_sys(e, "fork");
	if (pid == 0) {
		struct err ce;
		int bad = 0;

		if (chroot(rootfs) < 0 || chdir("/") < 0)
			_exit(1);
		for (char *l = list; l < list + len; l += strlen(l) + 1) {
			if (image_whiteout(l, target, sizeof(target), &opaque, &ce) != 1)
				continue;
			if (opaque)
				bad |= clear_dir(target);
			else
				bad |= util_rm_rf(target, &ce) < 0;
		}
		_exit(bad);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_sys(e, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return err_set(e, EIO, "applying a layer's whiteouts failed");
	return 0;
}

/* The blob at path must hash to digest ("sha256:<hex>", checked by
 * image_blob_path). */
static int verify_blob(const char *path, const char *digest, struct err *e)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t d[32], buf[16384];
	char hex[65];
	struct sha256 s;
	ssize_t n;

	if (fd < 0)
		return err_sys(e, "open blob %s", digest);
	sha256_init(&s);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(e, "read blob %s", digest);
		sha256_update(&s, buf, (size_t)n);
	}
	sha256_final(&s, d);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	if (strcmp(hex, digest + 7))
		return err_set(e, EINVAL, "blob %s: digest mismatch (its content hashes to %s)",
		               digest, hex);
	return 0;
}

/* Path of a blob whose content matches its digest. */
static int blob(const char *oci, const char *digest, char *out, size_t size, struct err *e)
{
	if (image_blob_path(oci, digest, out, size, e) < 0)
		return -1;
	return verify_blob(out, digest, e);
}

static int unpack_layer(const char *blob, const char *rootfs, struct err *e)
{
	cleanup_free char *list = NULL;
	char *tlist[] = {"tar", "-t", "-f", (char *)blob, "--quoting-style=literal", NULL};
	char *xargs[] = {"tar",
	                 "-x",
	                 "-f",
	                 (char *)blob,
	                 "-C",
	                 (char *)rootfs,
	                 "--same-owner",
	                 "--numeric-owner",
	                 "--same-permissions",
	                 "--exclude=.wh.*",
	                 NULL};

	if (run_tar(tlist, &list, e) < 0 || apply_whiteouts(rootfs, list, e) < 0)
		return -1;
	return run_tar(xargs, NULL, e);
}

int image_unpack(const char *archive, const char *dir, struct image_config *cfg, struct err *e)
{
	char oci[4096], rootfs[4096], path[4200];
	struct json_object *index = NULL, *manifest = NULL, *config = NULL, *layers;
	const char *digest;
	struct err ce;
	int r = -1;

	*cfg = (struct image_config){0};
	snprintf(oci, sizeof(oci), "%s/oci", dir);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	if (mkdir(oci, 0700) < 0 || mkdir(rootfs, 0755) < 0)
		return err_sys(e, "mkdir in %s", dir);
	char *xargs[] = {"tar", "-x", "-f", (char *)archive, "-C", oci, "--no-same-owner", NULL};

	if (run_tar(xargs, NULL, e) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/oci-layout", oci);
	if (access(path, F_OK) < 0) {
		err_set(e, EINVAL, "%s: not an OCI image layout (no oci-layout)", archive);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/index.json", oci);
	if (read_json(path, &index, e) < 0 || image_pick_manifest(index, &digest, e) < 0 ||
	    blob(oci, digest, path, sizeof(path), e) < 0 || read_json(path, &manifest, e) < 0)
		goto out;
	if (!json_object_object_get_ex(manifest, "config", &config) ||
	    !(digest = get_string(config, "digest"))) {
		err_set(e, EINVAL, "image manifest has no config");
		goto out;
	}
	config = NULL;
	if (blob(oci, digest, path, sizeof(path), e) < 0 || read_json(path, &config, e) < 0 ||
	    image_config_parse(config, cfg, e) < 0)
		goto out;
	if (!json_object_object_get_ex(manifest, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		err_set(e, EINVAL, "image manifest has no layers");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(layers); i++) {
		struct json_object *l = json_object_array_get_idx(layers, i);
		const char *mt = get_string(l, "mediaType");

		if (mt && !strstr(mt, "tar")) {
			err_set(e, ENOTSUP, "not supported: layer type %s", mt);
			goto out;
		}
		if (!(digest = get_string(l, "digest"))) {
			err_set(e, EINVAL, "image layer %zu has no digest", i);
			goto out;
		}
		if (blob(oci, digest, path, sizeof(path), e) < 0 ||
		    unpack_layer(path, rootfs, e) < 0) {
			err_ctx(e, "layer %s", digest);
			goto out;
		}
	}
	r = 0;
out:
	if (util_rm_rf(oci, &ce) < 0)
		log_warn("%s", ce.msg);
	if (r < 0) {
		image_config_free(cfg);
		err_ctx(e, "image %s", archive);
	}
	json_object_put(index);
	json_object_put(manifest);
	json_object_put(config);
	return r;
}
