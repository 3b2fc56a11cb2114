// SPDX-License-Identifier: LGPL-2.1-or-later
/* Runs every unit suite; CK_FORK=no for valgrind (see the valgrind test setup). */
#include <stdlib.h>

#include "test-common.h"

int main(void)
{
	SRunner *sr = srunner_create(rsp_suite());
	int failed;

	srunner_add_suite(sr, uri_suite());
	srunner_add_suite(sr, transport_suite());
	srunner_add_suite(sr, exit_reasons_suite());
	srunner_add_suite(sr, catalog_suite());
	srunner_add_suite(sr, unwind_suite());
	srunner_add_suite(sr, vmcs_suite());
	srunner_add_suite(sr, dci_suite());
	srunner_add_suite(sr, select_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
