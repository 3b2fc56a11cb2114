/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Check harness: each test file provides one suite; test-main.c runs them all. */
#pragma once

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

Suite *rsp_suite(void);
Suite *uri_suite(void);
Suite *exit_reasons_suite(void);
Suite *catalog_suite(void);
Suite *unwind_suite(void);
Suite *vmcs_suite(void);
Suite *transport_suite(void);
Suite *dci_suite(void);
Suite *select_suite(void);
