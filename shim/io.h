/* shim/io.h: one process's stdio between containerd's FIFOs and the agent:
 * ReadStdout/ReadStderr copied into the stdout/stderr FIFOs, the stdin
 * FIFO copied with WriteStdin (CloseStdin at its EOF). The output is
 * drained before the process's exit is reported. */
#ifndef HAKO_SHIM_IO_H
#define HAKO_SHIM_IO_H

#include <stdbool.h>

#include "lib/err.h"
#include "runtime/agent.h"

struct shim_io_config {
	struct agent *agent;
	const char *cid;
	const char *exec_id; /* NULL: the container's init */
	/* containerd's paths ("" or NULL: none); "file://PATH" (ctr --log-uri)
	 * is a log file, appended to */
	const char *stdin_path, *stdout_path, *stderr_path;
	bool terminal; /* one stream: stderr is not read */
};

struct shim_io;

/* Open the output FIFOs (without waiting for a reader). */
int shim_io_open(struct shim_io **out, const struct shim_io_config *cfg, struct err *e);
/* Start the copies; call once the process runs. Output without a FIFO
 * (null io) is read and dropped, so the process never blocks on it. */
int shim_io_start(struct shim_io *io, struct err *e);
/* Stop forwarding stdin and close the process's stdin (CloseIO). */
void shim_io_close_stdin(struct shim_io *io);
/* After the process exited: wait at most timeout_ms for its output to
 * reach the FIFOs, stop the stdin copy and close everything. */
void shim_io_finish(struct shim_io *io, int timeout_ms);
/* Finish (if not yet) and free. */
void shim_io_free(struct shim_io *io);

/* The host path of a containerd stdio address: "" / NULL -> NULL, "PATH"
 * and "file://PATH" -> PATH; other schemes (binary://, ...) fail with
 * "not supported". */
int shim_io_path(const char *addr, const char **path, struct err *e);

#endif
