/* Unit tests: sizes, durations, strings, JSON writer. */
#include "test.h"
#include "util/json.h"

/* CHECK with the failing case printed (table-driven tests) */
#define CHECK_MSG(cond, ...)                                                   \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: %s: ", __FILE__, __LINE__,   \
				test_cur_name);                                \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			test_cur_failed = 1;                                   \
		}                                                              \
	} while (0)

TEST(sizes)
{
	uint64_t b;
	const char *why;
	CHECK(!parse_size("512MiB", &b, &why) && b == 512 * MiB);
	CHECK(!parse_size("4GiB", &b, &why) && b == 4 * GiB);
	CHECK(!parse_size("1.5GiB", &b, &why) && b == 3 * GiB / 2);
	CHECK(!parse_size("0", &b, &why) && b == 0);
	CHECK(parse_size("lots", &b, &why) && why);
	CHECK(parse_size("12 parsecs", &b, &why));
	CHECK(parse_size("-1GiB", &b, &why));
	CHECK(parse_size("99999999999999999999TiB", &b, &why));
}

/* libvirt's unit table (virScaleInteger), item 2 of issue 10: "1G" was 10^9. */
TEST(sizes_libvirt_units)
{
	static const struct { const char *s; uint64_t want; } ok[] = {
		{ "1K", 1024 }, { "1KiB", 1024 }, { "1KB", 1000 },
		{ "1M", MiB }, { "1MiB", MiB }, { "1MB", 1000000 },
		{ "1G", GiB }, { "1GiB", GiB }, { "1GB", 1000000000ULL },
		{ "1T", GiB * 1024 }, { "1TiB", GiB * 1024 }, { "1TB", 1000000000000ULL },
		{ "7b", 7 }, { "7B", 7 }, { "7bytes", 7 }, { "7 bytes", 7 },
		{ "2 G", 2 * GiB }, { "1.5G", 3 * GiB / 2 }, { "0.5K", 512 },
		{ "00", 0 }, { "16383T", 16383 * GiB * 1024 },
	};
	static const char *const bad[] = {
		"1Gb", "1gib", "1 GiB/s", "1P", "1.5B", "1.5", "1e3", " 1G", "1G ",
		"1  G", "18446744073709551616B", "16777216T",
	};
	uint64_t b;
	const char *why;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		b = 42;
		why = NULL;
		CHECK_MSG(!parse_size(ok[i].s, &b, &why) && b == ok[i].want,
			  "'%s': got %llu (%s)", ok[i].s, (unsigned long long)b, why ? why : "ok");
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		CHECK_MSG(parse_size(bad[i], &b, &why) == -1 && why && *why, "'%s' was accepted", bad[i]);
	}
	/* sizes stop at 1EiB (SIZE_MAX_BYTES): later sums and products cannot overflow */
	CHECK(parse_size("18446744073709551615B", &b, &why) == -1 && strstr(why, "at most 1EiB"));
}

/* A bare number is an error that says which unit was probably meant. */
TEST(sizes_bare_number_hint)
{
	uint64_t b;
	const char *why = NULL;

	CHECK(parse_size("2048", &b, &why) == -1);
	CHECK_STR(why, "a size needs a unit; did you mean '2048MiB'?");
	CHECK(parse_size("512", &b, &why) == -1 && strstr(why, "'512MiB'"));
	CHECK(parse_size("1073741824", &b, &why) == -1 && strstr(why, "'1073741824B'"));
	CHECK(parse_size("1048576", &b, &why) == -1 && strstr(why, "'1048576B'"));
	CHECK(parse_size("1048575", &b, &why) == -1 && strstr(why, "'1048575MiB'"));
	CHECK(parse_size("1.5", &b, &why) == -1 && strstr(why, "'1.5GiB'"));
	CHECK(!parse_size("0", &b, &why) && b == 0);
}

TEST(durations)
{
	int64_t ms;
	const char *why;
	CHECK(!parse_duration("90s", &ms, &why) && ms == 90000);
	CHECK(!parse_duration("10m", &ms, &why) && ms == 600000);
	CHECK(!parse_duration("1h30m", &ms, &why) && ms == 5400000);
	CHECK(!parse_duration("250ms", &ms, &why) && ms == 250);
	CHECK(!parse_duration("0", &ms, &why) && ms == 0);
	CHECK(parse_duration("10", &ms, &why));
	CHECK(parse_duration("5x", &ms, &why));
	CHECK(parse_duration("", &ms, &why));
}

TEST(formatting)
{
	char b[32];
	CHECK_STR(format_size(512 * MiB, b), "512MiB");
	CHECK_STR(format_size(GiB, b), "1GiB");
	CHECK_STR(format_size(3 * GiB / 2, b), "1.5GiB");
	CHECK_STR(format_size(100, b), "100B");
	CHECK_STR(format_duration(90000, b), "1m30s");
	CHECK_STR(format_duration(600000, b), "10m");
	CHECK_STR(format_duration(250, b), "250ms");
	CHECK_STR(format_duration(1200, b), "1.2s");
}

TEST(strbuf_and_xml_escape)
{
	struct strbuf sb = STRBUF_INIT;
	CHECK_STR(sb.buf, "");
	strbuf_addf(&sb, "%d-%s", 42, "x");
	strbuf_add_xml(&sb, "<a&'\">");
	CHECK_STR(sb.buf, "42-x&lt;a&amp;&apos;&quot;&gt;");
	strbuf_release(&sb);
	CHECK(sb.len == 0 && sb.buf[0] == '\0');
}

TEST(json_writer)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_writer w;
	jw_init(&w, &sb, false);
	jw_object_begin(&w);
	jw_kv_string(&w, "a", "x\"y\n");
	jw_key(&w, "b");
	jw_array_begin(&w);
	jw_int(&w, 1);
	jw_bool(&w, true);
	jw_null(&w);
	jw_array_end(&w);
	jw_kv_double(&w, "c", 0.5);
	jw_key(&w, "d");
	jw_object_begin(&w);
	jw_object_end(&w);
	jw_object_end(&w);
	CHECK_STR(sb.buf, "{\"a\":\"x\\\"y\\n\",\"b\":[1,true,null],\"c\":0.5,\"d\":{}}");
	strbuf_release(&sb);
}

TEST(errors_sorted_and_printed)
{
	struct errbuf e = ERRBUF_INIT;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	err_at(&e, "b.yaml", 3, 1, "third");
	err_at(&e, "a.yaml", 9, 2, "first");
	err_at(&e, "b.yaml", 1, 5, "second");
	err_sort(&e);
	err_print(&e, f, "vem");
	fclose(f);
	CHECK_STR(out, "a.yaml:9:2: first\nb.yaml:1:5: second\nb.yaml:3:1: third\n");
	free(out);
	errbuf_release(&e);
}

TEST(edit_distance)
{
	CHECK_INT(str_edit_distance("memory", "memroy"), 2);
	CHECK_INT(str_edit_distance("capcity", "capacity"), 1);
	CHECK_INT(str_edit_distance("", "abc"), 3);
}

/* An error's kind is set where it is raised and survives what callers do
 * to the messages: prefixes, more messages, handing the errbuf on. */
TEST(error_kind_survives_wrapping)
{
	struct errbuf e = ERRBUF_INIT, moved;

	CHECK(err_kind(&e) == ERR_GENERIC);
	err_set(&e, "plain");
	CHECK(err_kind(&e) == ERR_GENERIC);
	CHECK_INT(err_set_kind(&e, ERR_LEASE_HELD, "cluster '%s' is busy", "c"), -1);
	CHECK(err_kind(&e) == ERR_LEASE_HELD);
	err_prefix(&e, 0, "host '%s'", "h1");
	CHECK_STR(e.items[1].msg, "host 'h1': cluster 'c' is busy");
	CHECK(err_kind(&e) == ERR_LEASE_HELD);
	/* the first kind raised wins over later ones and over plain errors */
	err_set_kind(&e, ERR_LEASE_LOST, "later");
	err_at(&e, "f.yaml", 1, 1, "located");
	CHECK(err_kind(&e) == ERR_LEASE_HELD);
	/* handed on by copying the struct, as cli_load_cluster_err does */
	moved = e;
	errbuf_init(&e);
	CHECK(err_kind(&moved) == ERR_LEASE_HELD);
	CHECK(err_kind(&e) == ERR_GENERIC);
	errbuf_release(&moved);
	CHECK(err_kind(&moved) == ERR_GENERIC);
	CHECK_INT(moved.nr, 0);
}

int main(void)
{
	RUN(sizes);
	RUN(sizes_libvirt_units);
	RUN(sizes_bare_number_hint);
	RUN(durations);
	RUN(formatting);
	RUN(strbuf_and_xml_escape);
	RUN(json_writer);
	RUN(errors_sorted_and_printed);
	RUN(error_kind_survives_wrapping);
	RUN(edit_distance);
	return test_done();
}
