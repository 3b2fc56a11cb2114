/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check harness: each test file declares its suites with TEST_SUITE(); test-main.c finds them
 * all through the linker section they are placed in, so adding a suite is one line in the file
 * that holds it (and the file in tests/meson.build's list of sources).
 */
#pragma once

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

struct test_suite {
	Suite *(*create)(void);
};

/*
 * Register the suite built by @fn (a `static Suite *fn(void)`). The entry goes into the
 * section "kvmdci_test_suites"; the linker provides __start_ and __stop_ symbols around it.
 * A section name that is a C identifier is what makes the linker provide them.
 */
#define TEST_SUITE(fn)                                                                             \
	static const struct test_suite fn##_entry                                                  \
		__attribute__((used, section("kvmdci_test_suites"),                                \
			       aligned(__alignof__(struct test_suite)))) = { fn }

extern const struct test_suite __start_kvmdci_test_suites[];
extern const struct test_suite __stop_kvmdci_test_suites[];
