/* Unit tests for lib/toml: valid documents, a Kata-style configuration, and
 * each error with the line and column it reports. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/toml.h"

static struct toml_table *parse_ok(const char *doc)
{
	struct toml_table *t = NULL;
	struct err e;

	if (toml_parse(doc, strlen(doc), "t.toml", &t, &e) < 0)
		fail_msg("unexpected parse error: %s", e.msg);
	return t;
}

static const struct toml_value *get(const struct toml_table *t, const char *path,
                                    enum toml_type type)
{
	const struct toml_value *v = toml_get_path(t, path);

	if (!v)
		fail_msg("missing %s", path);
	if (v->type != type)
		fail_msg("%s: %s, want %s", path, toml_type_name(v->type), toml_type_name(type));
	return v;
}

static void test_strings(void **state)
{
	struct toml_table *t =
	        parse_ok("basic = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600\"\n"
	                 "literal = 'C:\\path\\no escapes'\n"
	                 "empty = \"\"\n"
	                 "ml = \"\"\"\nline one\nline two\"\"\"\n"
	                 "joined = \"\"\"\\\n   a \\\n   b\"\"\"\n"
	                 "quotes = \"\"\"two \"\"in\"\" here\"\"\"\"\n"
	                 "mll = '''\nraw \\n\n'''\n");

	(void)state;
	assert_string_equal(get(t, "basic", TOML_STRING)->u.s,
	                    "tab\there \"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80");
	assert_string_equal(get(t, "literal", TOML_STRING)->u.s, "C:\\path\\no escapes");
	assert_string_equal(get(t, "empty", TOML_STRING)->u.s, "");
	assert_string_equal(get(t, "ml", TOML_STRING)->u.s, "line one\nline two");
	assert_string_equal(get(t, "joined", TOML_STRING)->u.s, "a b");
	assert_string_equal(get(t, "quotes", TOML_STRING)->u.s, "two \"\"in\"\" here\"");
	assert_string_equal(get(t, "mll", TOML_STRING)->u.s, "raw \\n\n");
	toml_free(t);
}

static void test_numbers_and_booleans(void **state)
{
	struct toml_table *t = parse_ok("a = 42\nb = -17\nc = +3\nd = 1_000_000\n"
	                                "e = 0xdead_BEEF\nf = 0o755\ng = 0b1010\nh = 0\n"
	                                "i = 3.25\nj = -2.5e-2\nk = 1E3\nl = inf\nm = -inf\n"
	                                "n = nan\no = true\np = false\n"
	                                "q = 9223372036854775807\n");

	(void)state;
	assert_int_equal(get(t, "a", TOML_INT)->u.i, 42);
	assert_int_equal(get(t, "b", TOML_INT)->u.i, -17);
	assert_int_equal(get(t, "c", TOML_INT)->u.i, 3);
	assert_int_equal(get(t, "d", TOML_INT)->u.i, 1000000);
	assert_int_equal(get(t, "e", TOML_INT)->u.i, 0xdeadbeef);
	assert_int_equal(get(t, "f", TOML_INT)->u.i, 0755);
	assert_int_equal(get(t, "g", TOML_INT)->u.i, 10);
	assert_int_equal(get(t, "h", TOML_INT)->u.i, 0);
	assert_true(get(t, "i", TOML_FLOAT)->u.f == 3.25);
	assert_true(get(t, "j", TOML_FLOAT)->u.f == -0.025);
	assert_true(get(t, "k", TOML_FLOAT)->u.f == 1000.0);
	assert_true(isinf(get(t, "l", TOML_FLOAT)->u.f) && get(t, "l", TOML_FLOAT)->u.f > 0);
	assert_true(isinf(get(t, "m", TOML_FLOAT)->u.f) && get(t, "m", TOML_FLOAT)->u.f < 0);
	assert_true(isnan(get(t, "n", TOML_FLOAT)->u.f));
	assert_true(get(t, "o", TOML_BOOL)->u.b);
	assert_false(get(t, "p", TOML_BOOL)->u.b);
	assert_int_equal(get(t, "q", TOML_INT)->u.i, INT64_MAX);
	toml_free(t);
}

static void test_tables_and_keys(void **state)
{
	struct toml_table *t = parse_ok("# top comment\n"
	                                "title = \"x\" # trailing comment\n"
	                                "site.\"google.com\" = true\n"
	                                "[a.b]\n"
	                                "  c = 1\n"
	                                "[ a . 'q k' ]\n"
	                                "d.e.f = 2\n"
	                                "[a]\n"
	                                "z = 3\n"
	                                "[x.y.z]\n"
	                                "w = 4\n"
	                                "[x]\n"
	                                "v = 5\n");
	const struct toml_kv *kv;

	(void)state;
	assert_string_equal(get(t, "title", TOML_STRING)->u.s, "x");
	kv = toml_find(get(t, "site", TOML_TABLE)->u.tab, "google.com");
	assert_non_null(kv);
	assert_true(kv->val.u.b);
	assert_int_equal(get(t, "a.b.c", TOML_INT)->u.i, 1);
	kv = toml_find(get(t, "a", TOML_TABLE)->u.tab, "q k");
	assert_non_null(kv);
	assert_int_equal(toml_get_path(kv->val.u.tab, "d.e.f")->u.i, 2);
	assert_int_equal(get(t, "a.z", TOML_INT)->u.i, 3);
	assert_int_equal(get(t, "x.y.z.w", TOML_INT)->u.i, 4);
	assert_int_equal(get(t, "x.v", TOML_INT)->u.i, 5);
	/* Keys keep document order; lines are where the key is written. */
	assert_string_equal(t->kv[0].key, "title");
	assert_int_equal(t->kv[0].line, 2);
	assert_int_equal(t->kv[0].val.col, 9);
	kv = toml_find(get(t, "a.b", TOML_TABLE)->u.tab, "c");
	assert_int_equal(kv->line, 5);
	assert_int_equal(kv->col, 3);
	assert_null(toml_get_path(t, "a.missing"));
	assert_null(toml_get_path(t, "title.x"));
	toml_free(t);
}

static void test_arrays(void **state)
{
	struct toml_table *t = parse_ok("empty = []\n"
	                                "ints = [1, 2, 3]\n"
	                                "multi = [\n"
	                                "  \"a\", # first\n"
	                                "  'b',\n"
	                                "\n"
	                                "  \"\"\"c\"\"\",  # trailing comma next\n"
	                                "]\n"
	                                "nested = [[1, 2], [\"x\"], []]\n"
	                                "mixed = [1, \"two\", 3.0, {k = true}]\n");
	const struct toml_array *a;

	(void)state;
	assert_int_equal(get(t, "empty", TOML_ARRAY)->u.arr->n, 0);
	a = get(t, "ints", TOML_ARRAY)->u.arr;
	assert_int_equal(a->n, 3);
	assert_int_equal(a->items[2].u.i, 3);
	a = get(t, "multi", TOML_ARRAY)->u.arr;
	assert_int_equal(a->n, 3);
	assert_string_equal(a->items[0].u.s, "a");
	assert_int_equal(a->items[0].line, 4);
	assert_string_equal(a->items[2].u.s, "c");
	assert_int_equal(a->items[2].line, 7);
	a = get(t, "nested", TOML_ARRAY)->u.arr;
	assert_int_equal(a->n, 3);
	assert_int_equal(a->items[0].u.arr->items[1].u.i, 2);
	assert_string_equal(a->items[1].u.arr->items[0].u.s, "x");
	a = get(t, "mixed", TOML_ARRAY)->u.arr;
	assert_int_equal(a->items[3].type, TOML_TABLE);
	assert_true(toml_find(a->items[3].u.tab, "k")->val.u.b);
	toml_free(t);
}

static void test_inline_tables_and_table_arrays(void **state)
{
	struct toml_table *t = parse_ok("point = { x = 1, y = -2, label.text = \"p\" }\n"
	                                "none = {}\n"
	                                "[[fruit]]\n"
	                                "name = \"apple\"\n"
	                                "[fruit.physical]\n"
	                                "color = \"red\"\n"
	                                "[[fruit]]\n"
	                                "name = \"banana\"\n"
	                                "[[fruit.variety]]\n"
	                                "name = \"plantain\"\n");
	const struct toml_array *a;

	(void)state;
	assert_int_equal(get(t, "point.x", TOML_INT)->u.i, 1);
	assert_int_equal(get(t, "point.y", TOML_INT)->u.i, -2);
	assert_string_equal(get(t, "point.label.text", TOML_STRING)->u.s, "p");
	assert_int_equal(get(t, "none", TOML_TABLE)->u.tab->n, 0);
	a = get(t, "fruit", TOML_ARRAY)->u.arr;
	assert_int_equal(a->n, 2);
	assert_string_equal(toml_get_path(a->items[0].u.tab, "name")->u.s, "apple");
	assert_string_equal(toml_get_path(a->items[0].u.tab, "physical.color")->u.s, "red");
	assert_string_equal(toml_get_path(a->items[1].u.tab, "name")->u.s, "banana");
	assert_int_equal(toml_get_path(a->items[1].u.tab, "variety")->u.arr->n, 1);
	toml_free(t);
}

/* The shape of Kata's configuration-qemu.toml: nested sections, comments,
 * arrays of strings across lines, CRLF line ends in one place. */
static void test_kata_style_sample(void **state)
{
	struct toml_table *t = parse_ok(
	        "# Copyright (c) 2017-2019 Intel Corporation\n"
	        "#\n"
	        "[hypervisor.qemu]\n"
	        "path = \"/usr/bin/qemu-system-x86_64\"\n"
	        "kernel = \"/usr/share/kata-containers/vmlinux.container\"\n"
	        "image = \"/usr/share/kata-containers/kata-containers.img\"\n"
	        "machine_type = \"q35\"\n"
	        "enable_annotations = [\"enable_iommu\", \"virtio_fs_extra_args\"]\n"
	        "valid_hypervisor_paths = [\"/usr/bin/qemu-system-x86_64\"]\n"
	        "kernel_params = \"\"\r\n"
	        "firmware = \"\"\n"
	        "machine_accelerators=\"\"\n"
	        "cpu_features=\"pmu=off\"\n"
	        "default_vcpus = 1\n"
	        "default_maxvcpus = 0\n"
	        "default_memory = 2048\n"
	        "shared_fs = \"virtio-fs\"\n"
	        "virtio_fs_daemon = \"/usr/libexec/virtiofsd\"\n"
	        "virtio_fs_extra_args = [\"--thread-pool-size=1\", \"--announce-submounts\"]\n"
	        "#enable_debug = true\n"
	        "\n"
	        "[factory]\n"
	        "\n"
	        "[agent.kata]\n"
	        "dial_timeout = 45\n"
	        "kernel_modules=[]\n"
	        "\n"
	        "[runtime]\n"
	        "internetworking_model=\"tcfilter\"\n"
	        "disable_guest_seccomp=true\n"
	        "sandbox_cgroup_only=false\n"
	        "experimental=[]\n");

	(void)state;
	assert_string_equal(get(t, "hypervisor.qemu.path", TOML_STRING)->u.s,
	                    "/usr/bin/qemu-system-x86_64");
	assert_string_equal(get(t, "hypervisor.qemu.kernel_params", TOML_STRING)->u.s, "");
	assert_int_equal(get(t, "hypervisor.qemu.default_memory", TOML_INT)->u.i, 2048);
	assert_int_equal(get(t, "hypervisor.qemu.virtio_fs_extra_args", TOML_ARRAY)->u.arr->n, 2);
	assert_int_equal(get(t, "factory", TOML_TABLE)->u.tab->n, 0);
	assert_int_equal(get(t, "agent.kata.dial_timeout", TOML_INT)->u.i, 45);
	assert_string_equal(get(t, "runtime.internetworking_model", TOML_STRING)->u.s, "tcfilter");
	assert_int_equal(get(t, "runtime.experimental", TOML_ARRAY)->u.arr->n, 0);
	assert_int_equal(toml_find(get(t, "runtime", TOML_TABLE)->u.tab, "experimental")->line, 32);
	toml_free(t);
}

static void test_errors(void **state)
{
	static const struct {
		const char *doc;
		const char *msg; /* the whole message must start with this */
	} cases[] = {
	        {"a = 1\nb = \n", "t.toml:2:5: expected a value"},
	        {"a = 1\nb 2\n", "t.toml:2:3: expected '=' after key, found '2'"},
	        {"t = {a 1}\n", "t.toml:1:8: expected '=' after key in inline table, found '1'"},
	        {"a = \"open\nb = 1\n", "t.toml:1:10: expected closing '\"' before end of line"},
	        {"a = \"\"\"never closed\n\n", "t.toml:1:5: unterminated string"},
	        {"\n\na = 1\na = 2\n", "t.toml:4:1: duplicate key 'a' (first defined at line 3)"},
	        {"[t]\n[t]\n", "t.toml:2:1: table 't' is already defined at line 1"},
	        {"[t\n", "t.toml:1:3: expected ']' to close the table header"},
	        {"a = [1, 2\nb = 3\n", "t.toml:2:1: expected ',' or ']' in array"},
	        {"a = {x = 1,}\n", "t.toml:1:12: expected a key, found '}'"},
	        {"a = {x = 1\n}\n", "t.toml:1:11: expected ',' or '}' in inline table"},
	        {"a = 1 b = 2\n", "t.toml:1:7: expected end of line, found 'b'"},
	        {"a = 012\n", "t.toml:1:5: invalid number '012' (leading zeros"},
	        {"a = 1__2\n", "t.toml:1:5: invalid number '1__2'"},
	        {"a = 1.\n", "t.toml:1:5: invalid float '1.' (expected digits after '.')"},
	        {"a = 99999999999999999999\n", "t.toml:1:5: number out of range"},
	        {"a = \"\\q\"\n", "t.toml:1:6: unknown escape sequence"},
	        {"a = \"\\uD800\"\n", "t.toml:1:6: escape is not a Unicode scalar value"},
	        {"d = 1979-05-27\n", "t.toml:1:5: not supported: TOML date-time values"},
	        {"a = 1\na.b = 2\n", "t.toml:2:1: cannot extend 'a' with a dotted key"},
	        {"a = {b = 1}\n[a]\n", "t.toml:2:1: table 'a' is already defined at line 1"},
	        {"a = [1]\n[[a]]\n", "t.toml:2:1: [[a]]: 'a' is already defined"},
	        {"x.y = 1\n[x]\n", "t.toml:2:1: table 'x' is already defined at line 1"},
	        {"= 1\n", "t.toml:1:1: expected a key, found '='"},
	        {"a = tru\n", "t.toml:1:5: expected a value (string, number"},
	        {"a = 'x' # \x01\n", "t.toml:1:11: expected a comment without control"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct toml_table *t = NULL;
		struct err e;

		if (toml_parse(cases[i].doc, strlen(cases[i].doc), "t.toml", &t, &e) == 0)
			fail_msg("case %zu parsed: %s", i, cases[i].doc);
		assert_null(t);
		if (strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: got '%s', want '%s...'", i, e.msg, cases[i].msg);
	}
}

static void test_parse_file_missing(void **state)
{
	struct toml_table *t = NULL;
	struct err e;

	(void)state;
	assert_int_equal(toml_parse_file("/nonexistent/hako.toml", &t, &e), -1);
	assert_int_equal(e.errnum, ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/hako.toml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_strings),
	        cmocka_unit_test(test_numbers_and_booleans),
	        cmocka_unit_test(test_tables_and_keys),
	        cmocka_unit_test(test_arrays),
	        cmocka_unit_test(test_inline_tables_and_table_arrays),
	        cmocka_unit_test(test_kata_style_sample),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_parse_file_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
