/* lib/toml.c: a TOML 1.0 reader (without date-time values) building the DOM
 * of lib/toml.h. Recursive descent over the text, tracking line and column
 * so every error can say where and what was expected. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/toml.h"
#include "lib/util.h"

#define TOML_MAX_FILE      (16u << 20)
#define TOML_MAX_DEPTH     64
#define TOML_MAX_KEY_PARTS 32

/* How a table came to be; decides which later definitions are legal. */
enum {
	T_EXPLICIT = 1, /* [header] */
	T_IMPLICIT = 2, /* parent of a [header], may still get its own header */
	T_DOTTED = 4,   /* created by a dotted key a.b = 1 */
	T_INLINE = 8,   /* { ... }: sealed */
	T_ARRAY_ELEM = 16,
};

struct parser {
	const char *p, *end;
	int line, col;
	const char *name;
	int depth;
	struct err *e;
	struct toml_table *root, *cur;
};

struct sbuf {
	char *s;
	size_t n, cap;
};

struct key_part {
	char *s;
	int line, col;
};

static int sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		char *ns;

		while (cap < b->n + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (!ns)
			return -1;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
	return 0;
}

static int sbuf_addc(struct sbuf *b, char c)
{
	return sbuf_add(b, &c, 1);
}

static bool at_end(const struct parser *ps)
{
	return ps->p >= ps->end;
}

static int peek(const struct parser *ps)
{
	return at_end(ps) ? -1 : (unsigned char)*ps->p;
}

static int peek_at(const struct parser *ps, size_t off)
{
	return ps->p + off >= ps->end ? -1 : (unsigned char)ps->p[off];
}

static void adv(struct parser *ps)
{
	if (at_end(ps))
		return;
	if (*ps->p == '\n') {
		ps->line++;
		ps->col = 1;
	} else {
		ps->col++;
	}
	ps->p++;
}

static void adv_n(struct parser *ps, size_t n)
{
	while (n--)
		adv(ps);
}

static bool starts(const struct parser *ps, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, s, n);
}

/* What is at the cursor, for "found ..." in messages. */
static const char *found(const struct parser *ps, char *buf, size_t size)
{
	int c = peek(ps);

	if (c < 0)
		return "end of file";
	if (c == '\n' || (c == '\r' && peek_at(ps, 1) == '\n'))
		return "end of line";
	if (c < 0x20 || c == 0x7f)
		snprintf(buf, size, "control character 0x%02x", c);
	else
		snprintf(buf, size, "'%c'", c);
	return buf;
}

static int __attribute__((format(printf, 4, 5)))
perr_at(struct parser *ps, int line, int col, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(ps->e, EINVAL, "%s:%d:%d: %s", ps->name, line, col, msg);
}

/* "expected X, found Y" at the cursor. */
static int expected(struct parser *ps, const char *what)
{
	char buf[40];

	return perr_at(ps, ps->line, ps->col, "expected %s, found %s", what,
	               found(ps, buf, sizeof(buf)));
}

static int oom(struct parser *ps)
{
	return err_set(ps->e, ENOMEM, "%s: out of memory", ps->name);
}

static void skip_ws(struct parser *ps)
{
	while (peek(ps) == ' ' || peek(ps) == '\t')
		adv(ps);
}

static int skip_comment(struct parser *ps)
{
	if (peek(ps) != '#')
		return 0;
	while (!at_end(ps) && *ps->p != '\n') {
		int c = peek(ps);

		if ((c < 0x20 && c != '\t' && !(c == '\r' && peek_at(ps, 1) == '\n')) || c == 0x7f)
			return expected(ps, "a comment without control characters");
		adv(ps);
	}
	return 0;
}

static bool at_newline(const struct parser *ps)
{
	return peek(ps) == '\n' || (peek(ps) == '\r' && peek_at(ps, 1) == '\n');
}

static void skip_newline(struct parser *ps)
{
	if (peek(ps) == '\r')
		adv(ps);
	adv(ps);
}

/* Whitespace, newlines and comments, as allowed inside arrays. */
static int skip_ws_nl(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		if (skip_comment(ps) < 0)
			return -1;
		if (!at_newline(ps))
			return 0;
		skip_newline(ps);
	}
}

/* After a key/value pair or a header: spaces, a comment, then end of line. */
static int end_of_line(struct parser *ps)
{
	skip_ws(ps);
	if (skip_comment(ps) < 0)
		return -1;
	if (at_end(ps))
		return 0;
	if (!at_newline(ps))
		return expected(ps, "end of line");
	skip_newline(ps);
	return 0;
}

static void free_value(struct toml_value *v);

static void free_table(struct toml_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->kv[i].key);
		free_value(&t->kv[i].val);
	}
	free(t->kv);
	free(t);
}

static void free_array(struct toml_array *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		free_value(&a->items[i]);
	free(a->items);
	free(a);
}

static void free_value(struct toml_value *v)
{
	switch (v->type) {
	case TOML_STRING:
		free(v->u.s);
		break;
	case TOML_ARRAY:
		free_array(v->u.arr);
		break;
	case TOML_TABLE:
		free_table(v->u.tab);
		break;
	default:
		break;
	}
	v->type = TOML_BOOL;
}

void toml_free(struct toml_table *t)
{
	free_table(t);
}

const char *toml_type_name(enum toml_type type)
{
	static const char *const names[] = {"string",  "integer", "float",
	                                    "boolean", "array",   "table"};

	return (unsigned int)type < ARRAY_SIZE(names) ? names[type] : "?";
}

const struct toml_kv *toml_find(const struct toml_table *t, const char *key)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (!strcmp(t->kv[i].key, key))
			return &t->kv[i];
	return NULL;
}

const struct toml_value *toml_get_path(const struct toml_table *t, const char *path)
{
	char part[256];

	for (;;) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		const struct toml_kv *kv;

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		kv = toml_find(t, part);
		if (!kv || !dot)
			return kv ? &kv->val : NULL;
		if (kv->val.type != TOML_TABLE)
			return NULL;
		t = kv->val.u.tab;
		path = dot + 1;
	}
}

static struct toml_table *table_new(unsigned int flags)
{
	struct toml_table *t = calloc(1, sizeof(*t));

	if (t)
		t->flags = flags;
	return t;
}

/* Append key (taking ownership) to t; the value is for the caller to set. */
static struct toml_kv *table_add(struct parser *ps, struct toml_table *t, struct key_part *k)
{
	struct toml_kv *kv;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct toml_kv *nkv = realloc(t->kv, cap * sizeof(*nkv));

		if (!nkv) {
			oom(ps);
			return NULL;
		}
		t->kv = nkv;
		t->cap = cap;
	}
	kv = &t->kv[t->n++];
	memset(kv, 0, sizeof(*kv));
	kv->key = steal_ptr(k->s);
	kv->line = k->line;
	kv->col = k->col;
	return kv;
}

static struct toml_kv *table_find_mut(struct toml_table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->kv[i].key, key))
			return &t->kv[i];
	return NULL;
}

static int array_push(struct parser *ps, struct toml_array *a, struct toml_value *v)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4;
		struct toml_value *ni = realloc(a->items, cap * sizeof(*ni));

		if (!ni)
			return oom(ps);
		a->items = ni;
		a->cap = cap;
	}
	a->items[a->n++] = *v;
	return 0;
}

/* ---- strings ---- */

static int put_utf8(struct sbuf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sbuf_add(b, u, n);
}

static int parse_escape(struct parser *ps, struct sbuf *b)
{
	int line = ps->line, col = ps->col;
	int c;

	adv(ps); /* the backslash */
	c = peek(ps);
	if (c > 0 && strchr("btnfre\"\\", c)) {
		static const char simple[] = {
		        ['b'] = '\b', ['t'] = '\t', ['n'] = '\n', ['f'] = '\f',
		        ['r'] = '\r', ['e'] = 0x1b, ['"'] = '"',  ['\\'] = '\\'};

		adv(ps);
		return sbuf_addc(b, simple[c]);
	}
	switch (c) {
	case 'u':
	case 'U': {
		int digits = c == 'u' ? 4 : 8;
		unsigned long cp = 0;

		adv(ps);
		for (int i = 0; i < digits; i++) {
			int h = peek(ps);

			if (h >= '0' && h <= '9')
				cp = cp * 16 + (unsigned long)(h - '0');
			else if (h >= 'a' && h <= 'f')
				cp = cp * 16 + (unsigned long)(h - 'a' + 10);
			else if (h >= 'A' && h <= 'F')
				cp = cp * 16 + (unsigned long)(h - 'A' + 10);
			else
				return expected(ps, digits == 4 ? "4 hex digits after \\u"
				                                : "8 hex digits after \\U");
			adv(ps);
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return perr_at(ps, line, col, "escape is not a Unicode scalar value");
		return put_utf8(b, cp);
	}
	default:
		return perr_at(ps, line, col, "unknown escape sequence in string");
	}
}

/* Control characters other than tab are not allowed in strings. */
static bool bad_string_char(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* "basic", 'literal', """multi-line basic""", '''multi-line literal'''. */
static int parse_string(struct parser *ps, char **out)
{
	char q = *ps->p;
	bool multi = starts(ps, q == '"' ? "\"\"\"" : "'''");
	int line = ps->line, col = ps->col;
	struct sbuf b = {0};
	int ret = -1;

	if (sbuf_add(&b, "", 0) < 0)
		return oom(ps);
	adv_n(ps, multi ? 3 : 1);
	if (multi && at_newline(ps))
		skip_newline(ps); /* a newline right after the delimiter is trimmed */
	for (;;) {
		int c = peek(ps);

		if (c < 0) {
			perr_at(ps, line, col, "unterminated string (expected closing %s)",
			        multi ? (q == '"' ? "\"\"\"" : "'''") : (q == '"' ? "\"" : "'"));
			goto out;
		}
		if (c == q && (!multi || (peek_at(ps, 1) == q && peek_at(ps, 2) == q))) {
			size_t extra = 0;

			if (multi) {
				/* Up to two quotes may sit right before the closing ones. */
				while (extra < 2 && peek_at(ps, 3 + extra) == q)
					extra++;
				if (sbuf_add(&b, ps->p, extra) < 0)
					goto nomem;
				adv_n(ps, 3 + extra);
			} else {
				adv(ps);
			}
			break;
		}
		if (at_newline(ps)) {
			if (!multi) {
				expected(ps, q == '"' ? "closing '\"' before end of line"
				                      : "closing \"'\" before end of line");
				goto out;
			}
			if (sbuf_addc(&b, '\n') < 0)
				goto nomem;
			skip_newline(ps);
			continue;
		}
		if (c == '\\' && q == '"') {
			if (multi) {
				/* Line-ending backslash: drop it and following whitespace. */
				size_t i = 1;

				while (peek_at(ps, i) == ' ' || peek_at(ps, i) == '\t')
					i++;
				if (peek_at(ps, i) == '\n' ||
				    (peek_at(ps, i) == '\r' && peek_at(ps, i + 1) == '\n')) {
					adv_n(ps, i);
					while (peek(ps) == ' ' || peek(ps) == '\t' ||
					       at_newline(ps))
						adv(ps);
					continue;
				}
			}
			if (parse_escape(ps, &b) < 0) {
				if (ps->e->errnum == 0)
					goto nomem;
				goto out;
			}
			continue;
		}
		if (bad_string_char(c)) {
			expected(ps, "a string character");
			goto out;
		}
		if (sbuf_addc(&b, (char)c) < 0)
			goto nomem;
		adv(ps);
	}
	*out = steal_ptr(b.s);
	ret = 0;
	goto out;
nomem:
	oom(ps);
out:
	free(b.s);
	return ret;
}

/* ---- keys ---- */

static bool bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static void free_key(struct key_part *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(k[i].s);
}

/* key or a.b."c d": fills parts, returns their number or -1. */
static int parse_key(struct parser *ps, struct key_part *parts)
{
	size_t n = 0;

	for (;;) {
		struct key_part *k = &parts[n];
		int c = peek(ps);

		if (n == TOML_MAX_KEY_PARTS) {
			free_key(parts, n);
			return perr_at(ps, ps->line, ps->col, "key has too many dotted parts");
		}
		k->line = ps->line;
		k->col = ps->col;
		if (c == '"' || c == '\'') {
			if (starts(ps, "\"\"\"") || starts(ps, "'''")) {
				free_key(parts, n);
				return expected(ps, "a key (multi-line strings cannot be keys)");
			}
			if (parse_string(ps, &k->s) < 0) {
				free_key(parts, n);
				return -1;
			}
		} else if (bare_key_char(c)) {
			const char *start = ps->p;

			while (bare_key_char(peek(ps)))
				adv(ps);
			k->s = strndup(start, (size_t)(ps->p - start));
			if (!k->s) {
				free_key(parts, n);
				return oom(ps);
			}
		} else {
			free_key(parts, n);
			return expected(ps, "a key");
		}
		n++;
		skip_ws(ps);
		if (peek(ps) != '.')
			return (int)n;
		adv(ps);
		skip_ws(ps);
	}
}

/* ---- numbers and other scalars ---- */

static bool is_digit_in(int c, int base)
{
	if (base == 16)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
	return c >= '0' && c < '0' + base;
}

/* Copy digits of the given base from s[0..n) into out without underscores,
 * which must each sit between two digits. Returns digits copied or -1. */
static int digits(const char *s, size_t n, int base, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			if (i == 0 || i + 1 == n || !is_digit_in(s[i - 1], base) ||
			    !is_digit_in(s[i + 1], base))
				return -1;
			continue;
		}
		if (!is_digit_in(s[i], base) || o + 1 >= size)
			return -1;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return (int)o;
}

static bool number_char(int c)
{
	return bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

static int parse_number(struct parser *ps, struct toml_value *v)
{
	const char *start = ps->p, *s;
	int line = ps->line, col = ps->col;
	char tok[128], buf[128];
	size_t n;
	bool neg = false;

	while (number_char(peek(ps)))
		adv(ps);
	n = (size_t)(ps->p - start);
	if (n == 0)
		return expected(ps, "a value");
	if (n >= sizeof(tok))
		return perr_at(ps, line, col, "number too long");
	memcpy(tok, start, n);
	tok[n] = '\0';
	/* 1979-05-27, 07:32:00: TOML date-times, which hako's config never needs. */
	if (strchr(tok, ':') || (n >= 5 && is_digit_in(tok[0], 10) && tok[4] == '-'))
		return perr_at(ps, line, col, "not supported: TOML date-time values");
	s = tok;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!strcmp(s, "inf") || !strcmp(s, "nan")) {
		v->type = TOML_FLOAT;
		v->u.f = s[0] == 'i' ? (neg ? -INFINITY : INFINITY) : NAN;
		return 0;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		unsigned long long u;
		char *endp;

		if (s != tok)
			return perr_at(ps, line, col, "a sign is not allowed on hex/octal/binary");
		if (digits(s + 2, strlen(s + 2), base, buf, sizeof(buf)) <= 0)
			return perr_at(ps, line, col, "expected digits of base %d in '%s'", base,
			               tok);
		errno = 0;
		u = strtoull(buf, &endp, base);
		if (errno || u > (unsigned long long)INT64_MAX)
			return perr_at(ps, line, col, "integer out of range: %s", tok);
		v->type = TOML_INT;
		v->u.i = (int64_t)u;
		return 0;
	}
	{
		/* Decimal integer or float: int [ '.' digits ] [ e [sign] digits ]. */
		const char *frac = strchr(s, '.');
		const char *exp = strpbrk(s, "eE");
		size_t ilen = frac ? (size_t)(frac - s) : exp ? (size_t)(exp - s) : strlen(s);
		char num[160];
		size_t o = 0;
		int d;

		if (neg)
			num[o++] = '-';
		d = digits(s, ilen, 10, num + o, sizeof(num) - o);
		if (d <= 0 || (num[o] == '0' && d > 1))
			return perr_at(ps, line, col, "invalid number '%s'%s", tok,
			               d > 1 ? " (leading zeros are not allowed)" : "");
		o += (size_t)d;
		if (frac) {
			size_t flen =
			        exp && exp > frac ? (size_t)(exp - frac - 1) : strlen(frac + 1);

			num[o++] = '.';
			d = digits(frac + 1, flen, 10, num + o, sizeof(num) - o);
			if (d <= 0)
				return perr_at(ps, line, col,
				               "invalid float '%s' (expected digits after '.')",
				               tok);
			o += (size_t)d;
		}
		if (exp) {
			const char *x = exp + 1;

			if (frac && exp < frac)
				return perr_at(ps, line, col, "invalid float '%s'", tok);
			num[o++] = 'e';
			if (*x == '+' || *x == '-')
				num[o++] = *x++;
			d = digits(x, strlen(x), 10, num + o, sizeof(num) - o);
			if (d <= 0)
				return perr_at(ps, line, col,
				               "invalid float '%s' (expected exponent digits)",
				               tok);
			o += (size_t)d;
		}
		num[o] = '\0';
		errno = 0;
		if (frac || exp) {
			v->type = TOML_FLOAT;
			v->u.f = strtod(num, NULL);
		} else {
			v->type = TOML_INT;
			v->u.i = strtoll(num, NULL, 10);
		}
		if (errno == ERANGE)
			return perr_at(ps, line, col, "number out of range: %s", tok);
	}
	return 0;
}

static int parse_value(struct parser *ps, struct toml_value *v);

static int set_dotted(struct parser *ps, struct toml_table *t, struct key_part *k, int n,
                      struct toml_value *v);

static int parse_array(struct parser *ps, struct toml_value *v)
{
	struct toml_array *a = calloc(1, sizeof(*a));

	if (!a)
		return oom(ps);
	v->type = TOML_ARRAY;
	v->u.arr = a;
	adv(ps); /* [ */
	for (;;) {
		struct toml_value item;

		if (skip_ws_nl(ps) < 0)
			return -1;
		if (peek(ps) == ']')
			break;
		if (parse_value(ps, &item) < 0)
			return -1;
		if (array_push(ps, a, &item) < 0) {
			free_value(&item);
			return -1;
		}
		if (skip_ws_nl(ps) < 0)
			return -1;
		if (peek(ps) == ',') {
			adv(ps);
			continue;
		}
		if (peek(ps) != ']')
			return expected(ps, "',' or ']' in array");
		break;
	}
	adv(ps); /* ] */
	return 0;
}

/* key = value into t (in a table's lines or an inline table); missing_eq
 * names what was expected when the '=' is not there. */
static int parse_key_value(struct parser *ps, struct toml_table *t, const char *missing_eq)
{
	struct key_part k[TOML_MAX_KEY_PARTS];
	struct toml_value v;
	int n = parse_key(ps, k);

	if (n < 0)
		return -1;
	if (peek(ps) != '=') {
		free_key(k, (size_t)n);
		return expected(ps, missing_eq);
	}
	adv(ps);
	skip_ws(ps);
	if (parse_value(ps, &v) < 0) {
		free_key(k, (size_t)n);
		return -1;
	}
	return set_dotted(ps, t, k, n, &v);
}

static int parse_inline_table(struct parser *ps, struct toml_value *v)
{
	struct toml_table *t = table_new(T_INLINE);

	if (!t)
		return oom(ps);
	v->type = TOML_TABLE;
	v->u.tab = t;
	adv(ps); /* { */
	skip_ws(ps);
	if (peek(ps) == '}') {
		adv(ps);
		return 0;
	}
	for (;;) {
		skip_ws(ps);
		if (parse_key_value(ps, t, "'=' after key in inline table") < 0)
			return -1;
		skip_ws(ps);
		if (peek(ps) == ',') {
			adv(ps);
			continue;
		}
		if (peek(ps) != '}')
			return expected(ps, "',' or '}' in inline table");
		adv(ps);
		return 0;
	}
}

static int parse_value(struct parser *ps, struct toml_value *v)
{
	int c = peek(ps);
	int ret;

	memset(v, 0, sizeof(*v));
	v->type = TOML_BOOL;
	v->line = ps->line;
	v->col = ps->col;
	if (++ps->depth > TOML_MAX_DEPTH)
		return perr_at(ps, ps->line, ps->col, "values nested too deeply");
	if (c == '"' || c == '\'') {
		v->type = TOML_STRING;
		ret = parse_string(ps, &v->u.s);
	} else if (c == '[') {
		ret = parse_array(ps, v);
	} else if (c == '{') {
		ret = parse_inline_table(ps, v);
	} else if (starts(ps, "true") && !bare_key_char(peek_at(ps, 4))) {
		adv_n(ps, 4);
		v->u.b = true;
		ret = 0;
	} else if (starts(ps, "false") && !bare_key_char(peek_at(ps, 5))) {
		adv_n(ps, 5);
		v->u.b = false;
		ret = 0;
	} else if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'i' || c == 'n') {
		ret = parse_number(ps, v);
	} else {
		ret = expected(ps, "a value (string, number, boolean, array or inline table)");
	}
	ps->depth--;
	if (ret < 0)
		free_value(v);
	return ret;
}

/* ---- tables ---- */

/* Assign v to the dotted key k[0..n) under t, creating tables on the way.
 * Consumes k and v, on failure too. */
static int set_dotted(struct parser *ps, struct toml_table *t, struct key_part *k, int n,
                      struct toml_value *v)
{
	int ret = -1;
	int i;

	for (i = 0; i < n - 1; i++) {
		struct toml_kv *kv = table_find_mut(t, k[i].s);

		if (!kv) {
			struct toml_table *sub = table_new(T_DOTTED);

			if (!sub || !(kv = table_add(ps, t, &k[i]))) {
				free(sub);
				if (!sub)
					oom(ps);
				goto out;
			}
			kv->val.type = TOML_TABLE;
			kv->val.line = k[i].line;
			kv->val.col = k[i].col;
			kv->val.u.tab = sub;
		} else if (kv->val.type != TOML_TABLE || !(kv->val.u.tab->flags & T_DOTTED)) {
			perr_at(ps, k[i].line, k[i].col,
			        "cannot extend '%s' with a dotted key: it is %s defined at line %d",
			        k[i].s, kv->val.type == TOML_TABLE ? "a table" : "a value",
			        kv->line);
			goto out;
		}
		t = kv->val.u.tab;
	}
	{
		struct toml_kv *kv = table_find_mut(t, k[i].s);

		if (kv) {
			perr_at(ps, k[i].line, k[i].col,
			        "duplicate key '%s' (first defined at line %d)", k[i].s, kv->line);
			goto out;
		}
		kv = table_add(ps, t, &k[i]);
		if (!kv)
			goto out;
		kv->val = *v;
		v->type = TOML_BOOL;
	}
	ret = 0;
out:
	free_key(k, (size_t)n);
	free_value(v);
	return ret;
}

/* A new table to append to an array of tables. */
static int push_table(struct parser *ps, struct toml_array *a, int line, int col,
                      struct toml_table **out)
{
	struct toml_value v = {.type = TOML_TABLE, .line = line, .col = col};

	v.u.tab = table_new(T_EXPLICIT | T_ARRAY_ELEM);
	if (!v.u.tab)
		return oom(ps);
	if (array_push(ps, a, &v) < 0) {
		free_table(v.u.tab);
		return -1;
	}
	*out = v.u.tab;
	return 0;
}

/* [a.b.c] or [[a.b.c]]: make cur the table they name. */
static int parse_header(struct parser *ps)
{
	bool array = starts(ps, "[[");
	struct key_part k[TOML_MAX_KEY_PARTS];
	int line = ps->line, col = ps->col;
	struct toml_table *t = ps->root;
	int n, i, ret = -1;

	adv_n(ps, array ? 2 : 1);
	skip_ws(ps);
	n = parse_key(ps, k);
	if (n < 0)
		return -1;
	if (array ? !starts(ps, "]]") : peek(ps) != ']') {
		expected(ps, array ? "']]' to close the array-of-tables header"
		                   : "']' to close the table header");
		goto out;
	}
	adv_n(ps, array ? 2 : 1);
	for (i = 0; i < n - 1; i++) {
		struct toml_kv *kv = table_find_mut(t, k[i].s);

		if (!kv) {
			struct toml_table *sub = table_new(T_IMPLICIT);

			if (!sub) {
				oom(ps);
				goto out;
			}
			kv = table_add(ps, t, &k[i]);
			if (!kv) {
				free(sub);
				goto out;
			}
			kv->val.type = TOML_TABLE;
			kv->val.line = line;
			kv->val.col = col;
			kv->val.u.tab = sub;
		}
		if (kv->val.type == TOML_ARRAY && kv->val.u.arr->n > 0 &&
		    kv->val.u.arr->items[0].type == TOML_TABLE &&
		    (kv->val.u.arr->items[0].u.tab->flags & T_ARRAY_ELEM)) {
			t = kv->val.u.arr->items[kv->val.u.arr->n - 1].u.tab;
			continue;
		}
		if (kv->val.type != TOML_TABLE || (kv->val.u.tab->flags & T_INLINE)) {
			perr_at(ps, k[i].line, k[i].col, "'%s' is already defined at line %d as %s",
			        k[i].s, kv->line,
			        kv->val.type == TOML_TABLE ? "an inline table"
			                                   : "a value, not a table");
			goto out;
		}
		t = kv->val.u.tab;
	}
	{
		struct toml_kv *kv = table_find_mut(t, k[i].s);

		if (array) {
			if (!kv) {
				struct toml_array *a = calloc(1, sizeof(*a));

				if (!a || !(kv = table_add(ps, t, &k[i]))) {
					free(a);
					if (!a)
						oom(ps);
					goto out;
				}
				kv->val.type = TOML_ARRAY;
				kv->val.line = line;
				kv->val.col = col;
				kv->val.u.arr = a;
			} else if (kv->val.type != TOML_ARRAY || kv->val.u.arr->n == 0 ||
			           kv->val.u.arr->items[0].type != TOML_TABLE ||
			           !(kv->val.u.arr->items[0].u.tab->flags & T_ARRAY_ELEM)) {
				perr_at(ps, line, col,
				        "[[%s]]: '%s' is already defined as a %s at line %d",
				        k[i].s, k[i].s, toml_type_name(kv->val.type), kv->line);
				goto out;
			}
			if (push_table(ps, kv->val.u.arr, line, col, &t) < 0)
				goto out;
		} else if (!kv) {
			struct toml_table *sub = table_new(T_EXPLICIT);

			if (!sub || !(kv = table_add(ps, t, &k[i]))) {
				free(sub);
				if (!sub)
					oom(ps);
				goto out;
			}
			kv->val.type = TOML_TABLE;
			kv->val.line = line;
			kv->val.col = col;
			kv->val.u.tab = sub;
			t = sub;
		} else if (kv->val.type == TOML_TABLE && kv->val.u.tab->flags == T_IMPLICIT) {
			kv->val.u.tab->flags = T_EXPLICIT;
			kv->val.line = line;
			kv->line = line;
			t = kv->val.u.tab;
		} else {
			perr_at(ps, line, col, "table '%s' is already defined at line %d", k[i].s,
			        kv->line);
			goto out;
		}
	}
	ps->cur = t;
	ret = end_of_line(ps);
out:
	free_key(k, (size_t)n);
	return ret;
}

static int parse_keyval(struct parser *ps)
{
	if (parse_key_value(ps, ps->cur, "'=' after key") < 0)
		return -1;
	return end_of_line(ps);
}

int toml_parse(const char *text, size_t len, const char *name, struct toml_table **out,
               struct err *e)
{
	struct parser ps = {
	        .p = text,
	        .end = text + len,
	        .line = 1,
	        .col = 1,
	        .name = name ? name : "<toml>",
	        .e = e,
	};

	err_clear(e);
	ps.root = ps.cur = table_new(0);
	if (!ps.root)
		return oom(&ps);
	if (memchr(text, '\0', len)) {
		toml_free(ps.root);
		return err_set(e, EINVAL, "%s: contains a NUL byte", ps.name);
	}
	if (starts(&ps, "\xef\xbb\xbf"))
		ps.p += 3; /* UTF-8 byte order mark */
	while (!at_end(&ps)) {
		int ret;

		skip_ws(&ps);
		if (peek(&ps) == '#' || at_newline(&ps) || at_end(&ps))
			ret = end_of_line(&ps);
		else if (peek(&ps) == '[')
			ret = parse_header(&ps);
		else
			ret = parse_keyval(&ps);
		if (ret < 0) {
			toml_free(ps.root);
			return -1;
		}
	}
	*out = ps.root;
	return 0;
}

int toml_parse_file(const char *path, struct toml_table **out, struct err *e)
{
	cleanup_free char *text = NULL;
	size_t len;

	if (util_read_file(path, TOML_MAX_FILE, &text, &len, e) < 0)
		return -1;
	return toml_parse(text, len, path, out, e);
}
