/* tunbrokerd.conf: what is accepted, and how each mistake is reported. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "policy.h"
#include "testlib.h"

static char *dir;

static void
setup(void)
{
	dir = testlib_mkdtemp();
}

static void
teardown(void)
{
	testlib_rmtree(dir);
	free(dir);
}

/* Writes text to a file in the test directory and returns its path. */
static char *
conf_file(const char *text)
{
	char *path;
	FILE *f;

	ck_assert_int_ge(asprintf(&path, "%s/tunbrokerd.conf", dir), 0);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* Loads text, expecting -EINVAL and exactly the message "PATH:expected". */
static void
expect_error(const char *text, const char *expected)
{
	struct broker_config cfg;
	struct tb_error err;
	char *path = conf_file(text), *want;

	ck_assert_int_ge(asprintf(&want, "%s:%s", path, expected), 0);
	ck_assert_int_eq(conf_load(path, &cfg, &err), -EINVAL);
	ck_assert_str_eq(err.text, want);
	free(want);
	free(path);
}

START_TEST(full_file)
{
	struct broker_config cfg;
	struct tb_error err;
	char *path = conf_file(
	    "# comment\n"
	    "[socket]\n"
	    "mode = 0640\n"
	    "group = nogroup\n"
	    "\n"
	    "[access]\n"
	    "users = nobody, 1000 2000\n"
	    "groups = 65534,4242\n");

	ck_assert_msg(conf_load(path, &cfg, &err) == 0, "%s", err.text);
	ck_assert_uint_eq(cfg.socket_mode, 0640);
	ck_assert(cfg.has_socket_group);
	ck_assert_uint_eq(cfg.socket_group, 65534);
	ck_assert_uint_eq(cfg.nusers, 3);
	ck_assert_uint_eq(cfg.users[0], 65534);
	ck_assert_uint_eq(cfg.users[1], 1000);
	ck_assert_uint_eq(cfg.users[2], 2000);
	ck_assert_uint_eq(cfg.ngroups, 2);
	ck_assert_uint_eq(cfg.groups[0], 65534);
	ck_assert_uint_eq(cfg.groups[1], 4242);
	conf_free(&cfg);
	free(path);
}
END_TEST

START_TEST(defaults_deny_everyone)
{
	struct broker_config cfg;
	struct tb_error err;
	struct peer_identity root = { .uid = 0, .gid = 0 };
	struct tb_create_request req = { .device_type = TB_DEVICE_TUN };
	char *path = conf_file("[socket]\n");

	ck_assert_int_eq(conf_load(path, &cfg, &err), 0);
	ck_assert_uint_eq(cfg.socket_mode, 0660);
	ck_assert(!cfg.has_socket_group);
	ck_assert_uint_eq(cfg.nusers, 0);
	ck_assert_uint_eq(cfg.ngroups, 0);
	/* Root is not special. */
	ck_assert_int_eq(policy_check_create(&cfg, &root, &req, &err),
	    -EACCES);
	ck_assert_str_eq(err.text,
	    "user root (uid 0) is not allowed to request devices");
	conf_free(&cfg);
	free(path);
}
END_TEST

START_TEST(missing_file)
{
	struct broker_config cfg;
	struct tb_error err;

	ck_assert_int_eq(conf_load("/nonexistent/tunbrokerd.conf", &cfg, &err),
	    -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent/tunbrokerd.conf"));
}
END_TEST

START_TEST(errors_name_file_and_line)
{
	expect_error("[socket]\nmode = 0660\nsize = 3\n",
	    "3: unknown key \"size\" in [socket]");
	expect_error("[sockets]\nmode = 0660\n", "2: unknown section [sockets]");
	expect_error("[socket]\nmode = 999\n",
	    "2: mode: \"999\" is not an octal mode from 0 to 0777");
	expect_error("[socket]\nmode = 01777\n",
	    "2: mode: \"01777\" is not an octal mode from 0 to 0777");
	expect_error("[socket]\nmode =\n",
	    "2: mode: \"\" is not an octal mode from 0 to 0777");
	expect_error("[socket]\ngroup = no-such-group-here\n",
	    "2: group: no such group \"no-such-group-here\"");
	expect_error("[access]\nusers = nobody, no-such-user-here\n",
	    "2: users: no such user \"no-such-user-here\"");
	expect_error("[access]\n\ngroups = nogroup no-such-group-here\n",
	    "3: groups: no such group \"no-such-group-here\"");
	expect_error("users = nobody\n[access]\n",
	    "1: key \"users\" is outside any section");
	expect_error("[access\nusers = nobody\n", "1: syntax error");
	expect_error("[access]\nusers nobody\n", "2: syntax error");
}
END_TEST

START_TEST(first_error_wins)
{
	expect_error("[access]\nusers = x-no-user\n[bogus]\nk = v\n",
	    "2: users: no such user \"x-no-user\"");
}
END_TEST

START_TEST(policy_matches_uid_gid_and_groups)
{
	uid_t users[] = { 1000 };
	gid_t groups[] = { 500 };
	gid_t supplementary[] = { 20, 500 };
	struct broker_config cfg = {
		.users = users, .nusers = 1, .groups = groups, .ngroups = 1,
	};
	struct tb_create_request req = { .device_type = TB_DEVICE_TUN };
	struct peer_identity who = { .uid = 1000, .gid = 1000 };
	struct tb_error err;

	ck_assert_int_eq(policy_check_create(&cfg, &who, &req, &err), 0);
	who.uid = 1001;
	ck_assert_int_eq(policy_check_create(&cfg, &who, &req, &err), -EACCES);
	ck_assert_ptr_nonnull(strstr(err.text, "uid 1001"));
	who.gid = 500;
	ck_assert_int_eq(policy_check_create(&cfg, &who, &req, &err), 0);
	who.gid = 1001;
	who.groups = supplementary;
	who.ngroups = 2;
	ck_assert_int_eq(policy_check_create(&cfg, &who, &req, &err), 0);
	who.ngroups = 1;
	ck_assert_int_eq(policy_check_create(&cfg, &who, &req, &err), -EACCES);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, full_file);
	tcase_add_test(tc, defaults_deny_everyone);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, errors_name_file_and_line);
	tcase_add_test(tc, first_error_wins);
	tcase_add_test(tc, policy_matches_uid_gid_and_groups);
	suite_add_tcase(s, tc);
	return testlib_run(s, false);
}
