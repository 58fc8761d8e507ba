/* test_params.c - "name:key=value" specs and spec lists. */
#include <string.h>

#include "params.h"
#include "test_util.h"

static void test_split_resolve(void)
{
	struct kv_params p;
	struct kv_err err;
	double x;
	long l;
	char buf[128];

	CU_ASSERT_EQUAL(kv_params_split("s3fifo:small=0.2", &p, &err), KV_OK);
	CU_ASSERT_STRING_EQUAL(p.name, "s3fifo");
	CU_ASSERT_EQUAL(kv_params_resolve(&p, "small=0.1,ghost=1", &err), KV_OK);
	CU_ASSERT_EQUAL(p.n, 2);
	CU_ASSERT_EQUAL(kv_param_double(&p, "small", 0, 1, &x, &err), KV_OK);
	CU_ASSERT_DOUBLE_EQUAL(x, 0.2, 1e-12); /* user value overrides the default 0.1 */
	CU_ASSERT_EQUAL(kv_param_long(&p, "ghost", 0, 10, &l, &err), KV_OK);
	CU_ASSERT_EQUAL(l, 1); /* default kept */
	kv_params_format(&p, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "s3fifo:small=0.2"); /* only what the user set */
}

static void test_bad(void)
{
	struct kv_params p;
	struct kv_err err;
	double x;

	CU_ASSERT_EQUAL(kv_params_split("lru:", &p, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_params_split("lru:size", &p, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_params_split(":a=1", &p, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_params_split("x:a=1,a=2", &p, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_params_split("lru:typo=1", &p, &err), KV_OK);
	CU_ASSERT_EQUAL(kv_params_resolve(&p, "", &err), KV_EINPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "typo"));
	CU_ASSERT_EQUAL(kv_params_split("s:small=abc", &p, &err), KV_OK);
	CU_ASSERT_EQUAL(kv_params_resolve(&p, "small=0.1", &err), KV_OK);
	CU_ASSERT_EQUAL(kv_param_double(&p, "small", 0, 1, &x, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_params_split("s:small=2", &p, &err), KV_OK);
	CU_ASSERT_EQUAL(kv_params_resolve(&p, "small=0.1", &err), KV_OK);
	CU_ASSERT_EQUAL(kv_param_double(&p, "small", 0, 1, &x, &err), KV_EINPUT); /* > hi */
}

static void test_split_specs(void)
{
	char s[] = "lru,s3fifo:small=0.2,ghost=1,fifo";
	char *items[8];

	/* a comma followed by key=value continues the previous item's parameters */
	CU_ASSERT_EQUAL(kv_split_specs(s, items, 8), 3);
	CU_ASSERT_STRING_EQUAL(items[0], "lru");
	CU_ASSERT_STRING_EQUAL(items[1], "s3fifo:small=0.2,ghost=1");
	CU_ASSERT_STRING_EQUAL(items[2], "fifo");
	char s2[] = "1%,5%,64GiB";
	CU_ASSERT_EQUAL(kv_split_specs(s2, items, 2), -1); /* more than max */
}

int suite_params(void)
{
	CU_pSuite s = CU_add_suite("params", NULL, NULL);

	return !s || !CU_add_test(s, "split and resolve", test_split_resolve) ||
	       !CU_add_test(s, "bad specs", test_bad) ||
	       !CU_add_test(s, "spec lists", test_split_specs);
}
