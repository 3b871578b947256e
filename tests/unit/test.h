/*
 * test.h - a tiny unit-test harness. Each test file defines tests with
 * TEST(name) { ... CHECK(...); ... } and lists them in main() with RUN(name);
 * test_done() prints "N passed, N failed" and returns the exit status.
 */
#ifndef VEM_TEST_H
#define VEM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed, test_cur_failed;
static const char *test_cur_name;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: %s: check failed: %s\n",    \
				__FILE__, __LINE__, test_cur_name, #cond);    \
			test_cur_failed = 1;                                   \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (!a_ || !b_ || strcmp(a_, b_)) {                            \
			fprintf(stderr, "  %s:%d: %s: expected\n---\n%s\n---\ngot\n---\n%s\n---\n", \
				__FILE__, __LINE__, test_cur_name,             \
				b_ ? b_ : "(null)", a_ ? a_ : "(null)");       \
			test_cur_failed = 1;                                   \
		}                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ != b_) {                                                \
			fprintf(stderr, "  %s:%d: %s: %s == %lld, expected %lld\n", \
				__FILE__, __LINE__, test_cur_name, #a, a_, b_); \
			test_cur_failed = 1;                                   \
		}                                                              \
	} while (0)

#define RUN(name)                                                              \
	do {                                                                   \
		test_cur_name = #name;                                         \
		test_cur_failed = 0;                                           \
		name();                                                        \
		if (test_cur_failed) {                                         \
			test_failed++;                                         \
			printf("not ok - %s\n", #name);                        \
		} else {                                                       \
			test_passed++;                                         \
			printf("ok - %s\n", #name);                            \
		}                                                              \
	} while (0)

static inline int test_done(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
