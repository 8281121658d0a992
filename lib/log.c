/* lib/log.c: leveled logging, text or JSON lines, safe from several threads
 * (each record is one write(2)). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

static int log_fd = 2;
static int log_json;
static enum log_level log_level = LOG_INFO;
static char log_name[32] = "hako";

static const char *const level_names[] = {"error", "warning", "info", "debug"};

int log_open(const char *path, int json, struct err *e)
{
	int fd;

	log_json = json;
	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_sys(e, "open log file %s", path);
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

void log_set_name(const char *name)
{
	snprintf(log_name, sizeof(log_name), "%s", name);
}

int log_enabled(enum log_level level)
{
	return level <= log_level;
}

/* Append s to buf as the body of a JSON string. */
static size_t json_escape(char *buf, size_t size, size_t n, const char *s)
{
	for (; *s && n + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(buf + n, size - n, "\\u%04x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	return n;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[2048], line[4096], stamp[40];
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%06ldZ", (long)tv.tv_usec);

	if (log_json) {
		n = (size_t)snprintf(line, sizeof(line),
		                     "{\"level\":\"%s\",\"time\":\"%s\",\"msg\":\"",
		                     level_names[level], stamp);
		n = json_escape(line, sizeof(line), n, msg);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}\n");
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%s %s[%d] %s: %s\n", stamp, log_name,
		                     (int)getpid(), level_names[level], msg);
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (write(log_fd, line, n) < 0)
		return;
}

void log_close(void)
{
	if (log_fd > 2)
		close(log_fd);
	log_fd = 2;
}
