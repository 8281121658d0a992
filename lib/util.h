/* lib/util.h: small helpers every module uses: scope-bound cleanup, whole
 * reads and writes, files as strings. */
#ifndef HAKO_LIB_UTIL_H
#define HAKO_LIB_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "lib/err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void util_freep(void *p);
void util_closep(int *fd);
void util_fclosep(FILE **f);

/* Free/close when the variable leaves scope; set it to NULL/-1 to keep it. */
#define cleanup_free   __attribute__((cleanup(util_freep)))
#define cleanup_close  __attribute__((cleanup(util_closep)))
#define cleanup_fclose __attribute__((cleanup(util_fclosep)))

/* Take ownership out of a cleanup variable. */
#define steal_ptr(p)                                                                               \
	({                                                                                         \
		__typeof__(p) _tmp = (p);                                                          \
		(p) = NULL;                                                                        \
		_tmp;                                                                              \
	})
#define steal_fd(fd)                                                                               \
	({                                                                                         \
		int _tmp = (fd);                                                                   \
		(fd) = -1;                                                                         \
		_tmp;                                                                              \
	})

/* write(2) until done, retrying EINTR; -1 with errno on failure. */
ssize_t util_write_all(int fd, const void *buf, size_t len);
/* read(2) until len bytes or EOF; returns bytes read, -1 with errno. */
ssize_t util_read_all(int fd, void *buf, size_t len);

/* Read a whole file (at most max bytes) into a NUL-terminated malloc'd buffer. */
int util_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e);
/* Write a file atomically (temp file + rename) with the given mode. */
int util_write_file(const char *path, const void *data, size_t len, int mode, struct err *e);
/* mkdir -p with mode for each created component. */
int util_mkdir_p(const char *path, int mode, struct err *e);
/* rm -rf that does not cross mount points; missing path is not an error. */
int util_rm_rf(const char *path, struct err *e);

/* Monotonic clock in nanoseconds. */
unsigned long long util_now_ns(void);

#endif
