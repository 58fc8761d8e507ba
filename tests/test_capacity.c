/* test_capacity.c - capacity forms resolved to blocks, values computed by hand. */
#include "capacity.h"
#include "model.h"
#include "test_util.h"

static uint64_t blocks(const char *s, uint32_t B, uint64_t bpt, uint64_t distinct)
{
	struct kv_capacity c;
	struct kv_err err;
	uint64_t b = 0;

	CU_ASSERT_EQUAL_FATAL(kv_capacity_parse(s, &c, &err), KV_OK);
	CU_ASSERT_EQUAL_FATAL(kv_capacity_blocks(&c, B, bpt, distinct, &b, &err), KV_OK);
	return b;
}

static void test_forms(void)
{
	const struct kv_model *m = kv_model_find("qwen2.5-7b");

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	/* 2 x 28 layers x 4 kv heads x 128 dims x 2 bytes = 57,344 B/token (DESIGN.md) */
	CU_ASSERT_EQUAL(kv_model_kv_bytes_per_token(m), 57344);
	/* qwen2.5-72b: 2 x 80 x 8 x 128 x 2 = 327,680 */
	CU_ASSERT_EQUAL(kv_model_kv_bytes_per_token(kv_model_find("qwen2.5-72b")), 327680);
	/* qwen3-30b-a3b: 2 x 48 x 4 x 128 x 2 = 98,304 */
	CU_ASSERT_EQUAL(kv_model_kv_bytes_per_token(kv_model_find("qwen3-30b-a3b")), 98304);
	/* 64 GiB / (57,344 x 16 B per block = 917,504) = 74,898.29 -> 74,898 */
	CU_ASSERT_EQUAL(blocks("64GiB", 16, 57344, 0), 74898);
	/* Mooncake blocks: 64 GiB / (57,344 x 512 = 29,360,128) = 2,340.6 -> 2,340 */
	CU_ASSERT_EQUAL(blocks("64GiB", 512, 57344, 0), 2340);
	/* 1 GB decimal: 1e9 / 917,504 = 1,089.9 -> 1,089 */
	CU_ASSERT_EQUAL(blocks("1GB", 16, 57344, 0), 1089);
	CU_ASSERT_EQUAL(blocks("4096blocks", 16, 57344, 0), 4096);
	CU_ASSERT_EQUAL(blocks("4096", 16, 57344, 0), 4096);
	/* 1M tokens / 16 = 62,500 blocks */
	CU_ASSERT_EQUAL(blocks("1Mtokens", 16, 57344, 0), 62500);
	CU_ASSERT_EQUAL(blocks("1000tokens", 512, 57344, 0), 1); /* floor(1000/512) */
	/* 10% of 182,790 = 18,279; 1% of 182,790 = 1,827.9 -> 1,827 */
	CU_ASSERT_EQUAL(blocks("10%", 512, 0, 182790), 18279);
	CU_ASSERT_EQUAL(blocks("1%", 512, 0, 182790), 1827);
	CU_ASSERT_EQUAL(blocks("0.5%", 16, 0, 1000), 5);
	CU_ASSERT_EQUAL(blocks("1%", 16, 0, 50), 1); /* 0.5 rounds down, but at least 1 */
	CU_ASSERT_EQUAL(blocks("inf", 16, 0, 50), KV_CAPACITY_INF);
}

static void test_bad(void)
{
	struct kv_capacity c;
	struct kv_err err;
	uint64_t b;

	CU_ASSERT_EQUAL(kv_capacity_parse("64Gib", &c, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_capacity_parse("-5", &c, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_capacity_parse("", &c, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_capacity_parse("150%", &c, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_capacity_parse("1.5blocks", &c, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_capacity_parse("nan", &c, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_capacity_parse("1e400", &c, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_capacity_parse("0", &c, &err), KV_OK);
	CU_ASSERT_EQUAL(kv_capacity_blocks(&c, 16, 1, 10, &b, &err), KV_EINPUT); /* 0 blocks */
	CU_ASSERT_EQUAL(kv_capacity_parse("100KiB", &c, &err), KV_OK);
	/* 102,400 B < one 917,504 B block */
	CU_ASSERT_EQUAL(kv_capacity_blocks(&c, 16, 57344, 10, &b, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(kv_capacity_blocks(&c, 16, 0, 10, &b, &err), KV_EINPUT); /* no model */
}

int suite_capacity(void)
{
	CU_pSuite s = CU_add_suite("capacity", NULL, NULL);

	return !s || !CU_add_test(s, "forms", test_forms) || !CU_add_test(s, "bad", test_bad);
}
