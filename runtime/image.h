/* runtime/image.h: unpack an OCI image layout archive (a local tar, no
 * registry) into a root filesystem, for `hako run --image`. */
#ifndef HAKO_RUNTIME_IMAGE_H
#define HAKO_RUNTIME_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct json_object;

/* The image config's defaults for its process (all may be empty/NULL). */
struct image_config {
	char **env, **entrypoint, **cmd; /* NULL-terminated */
	char *cwd, *user;
};

/* Unpack the image archive (oci-layout, index.json -> manifest -> config
 * and layers, tar or tar+gzip, OCI whiteouts applied) into dir/rootfs; dir
 * exists. The archive and the layers are read by GNU tar as a child
 * process and are trusted like a bundle's rootfs (whiteouts are applied
 * inside a chroot, but tar follows symlinks of earlier layers). Each blob
 * read (manifest, config, layers) must match its sha256 digest. dir/oci is
 * scratch, removed before returning;
 * on error the caller removes dir. */
int image_unpack(const char *archive, const char *dir, struct image_config *cfg, struct err *e);
void image_config_free(struct image_config *cfg);

/* The pieces, exposed for tests. */
/* The manifest digest that index.json names (the linux/amd64 one when it
 * names several; a nested index is not followed). */
int image_pick_manifest(struct json_object *index, const char **digest, struct err *e);
/* "sha256:<64 hex>" to <oci>/blobs/sha256/<hex>. */
int image_blob_path(const char *oci, const char *digest, char *out, size_t size, struct err *e);
/* A layer entry (as `tar -t` prints it): 1 with *target the path (relative,
 * "." for the root) it removes when it is a whiteout, *opaque when it is
 * ".wh..wh..opq" (the directory's lower contents go); 0 when it is not a
 * whiteout; -1 with e when it escapes the root (".."). */
int image_whiteout(const char *entry, char *target, size_t size, bool *opaque, struct err *e);
/* The config blob's config.Env/WorkingDir/User/Entrypoint/Cmd. */
int image_config_parse(struct json_object *config, struct image_config *out, struct err *e);

#endif
