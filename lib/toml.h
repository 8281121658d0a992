/* lib/toml.h: hako's TOML reader (Debian has no C TOML library). Parses a
 * document into a small DOM of typed values, each remembering its line and
 * column so callers can say "unknown key at file:line". */
#ifndef HAKO_LIB_TOML_H
#define HAKO_LIB_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum toml_type { TOML_STRING, TOML_INT, TOML_FLOAT, TOML_BOOL, TOML_ARRAY, TOML_TABLE };

struct toml_table;
struct toml_array;

struct toml_value {
	enum toml_type type;
	int line, col; /* where the value starts (1-based); tables: where defined */
	union {
		char *s; /* NUL-terminated; may hold embedded NULs only via \u0000 */
		int64_t i;
		double f;
		bool b;
		struct toml_array *arr;
		struct toml_table *tab;
	} u;
};

struct toml_array {
	size_t n, cap;
	struct toml_value *items;
};

struct toml_kv {
	char *key;
	int line, col; /* where the key is written */
	struct toml_value val;
};

/* Keys keep the order in which the document wrote them. */
struct toml_table {
	size_t n, cap;
	struct toml_kv *kv;
	unsigned int flags; /* parser bookkeeping (how the table was defined) */
};

/* Parse text (len bytes, need not be NUL-terminated). name is used in error
 * messages: "name:line:col: expected a value, found ']'". */
int toml_parse(const char *text, size_t len, const char *name, struct toml_table **out,
               struct err *e);
/* Read and parse a file; errors name the file. */
int toml_parse_file(const char *path, struct toml_table **out, struct err *e);
void toml_free(struct toml_table *t);

/* The entry for key (one plain key, no dots) in t, or NULL. */
const struct toml_kv *toml_find(const struct toml_table *t, const char *key);
/* Follow a dotted path ("hypervisor.qemu.path") through nested tables. */
const struct toml_value *toml_get_path(const struct toml_table *t, const char *path);
/* "string", "integer", "float", "boolean", "array", "table". */
const char *toml_type_name(enum toml_type type);

#endif
