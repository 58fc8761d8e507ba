/* test_record.c - the purpose-built JSONL record parser. */
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "test_util.h"

static struct kv_record rec;
static char msg[512];

static int parse(const char *s)
{
	rec.max_ids = 1000;
	return kv_record_parse(s, s + strlen(s), &rec, msg, sizeof(msg));
}

static void test_valid(void)
{
	CU_ASSERT_EQUAL_FATAL(parse("{\"chat_id\":159,\"parent_chat_id\":55,\"timestamp\":61.114,"
				    "\"input_length\":521,\"output_length\":132,\"type\":\"text\","
				    "\"turn\":2,\"hash_ids\":[1089,1090,0]}"), 0);
	CU_ASSERT_EQUAL(rec.chat_id, 159);
	CU_ASSERT_EQUAL(rec.parent_chat_id, 55);
	CU_ASSERT_EQUAL(rec.timestamp, 61.114); /* exactly the double strtod gives */
	CU_ASSERT_EQUAL(rec.input_length, 521);
	CU_ASSERT_EQUAL(rec.turn, 2);
	CU_ASSERT_STRING_EQUAL(rec.type, "text");
	CU_ASSERT_EQUAL(rec.nids, 3);
	CU_ASSERT_EQUAL(rec.ids[1], 1090);
	CU_ASSERT_EQUAL(rec.ids[2], 0);

	/* any key order, whitespace, unknown keys of every kind, escapes */
	CU_ASSERT_EQUAL_FATAL(parse(" { \"hash_ids\" : [ 7 , 8 ] ,\t\"x\":{\"a\":[1,true,null,"
				    "-2.5e3,\"q\\\"\\u00e9\"]}, \"timestamp\" : 27482 , "
				    "\"type\":\"t\\u0065xt\", \"input_length\":20,"
				    "\"output_length\":0 }\r"), 0);
	CU_ASSERT_EQUAL(rec.nids, 2);
	CU_ASSERT_EQUAL(rec.ids[0], 7);
	CU_ASSERT_EQUAL(rec.timestamp, 27482.0);
	CU_ASSERT_STRING_EQUAL(rec.type, "text"); /* \u0065 is 'e' */
	CU_ASSERT_EQUAL(rec.fields, KV_F_HASH_IDS | KV_F_TIMESTAMP | KV_F_TYPE |
					    KV_F_INPUT_LENGTH | KV_F_OUTPUT_LENGTH);

	/* timestamps beyond the fast path go through strtod and still round correctly */
	CU_ASSERT_EQUAL_FATAL(parse("{\"timestamp\":1.2345678901234567e2,\"hash_ids\":[]}"), 0);
	CU_ASSERT_EQUAL(rec.timestamp, strtod("1.2345678901234567e2", NULL));
	CU_ASSERT_EQUAL_FATAL(parse("{\"timestamp\":0.1000000000000000055511151231257827,"
				    "\"hash_ids\":[9223372036854775807]}"), 0);
	CU_ASSERT_EQUAL(rec.timestamp, 0.1);
	CU_ASSERT_EQUAL(rec.ids[0], 9223372036854775807ull);
	CU_ASSERT_EQUAL_FATAL(parse("{}"), 0);
	CU_ASSERT_EQUAL(rec.fields, 0);
	/* keys are matched decoded: escaped forms of a known key are that key (the plain
	 * keys are matched in place, the others through the string decoder); a key that
	 * only starts like a known one, or is longer, is unknown */
	CU_ASSERT_EQUAL_FATAL(parse("{\"timest\\u0061mp\":3,\"hash\\u005fids\":[5,6],"
				    "\"hash_idsx\":[1],\"hash_id\":[2],\"t\u00e9\":1}"), 0);
	CU_ASSERT_EQUAL(rec.timestamp, 3.0);
	CU_ASSERT_EQUAL(rec.nids, 2);
	CU_ASSERT_EQUAL(rec.ids[1], 6);
	CU_ASSERT_EQUAL(rec.fields, KV_F_TIMESTAMP | KV_F_HASH_IDS);
	CU_ASSERT_EQUAL(parse("{\"turn\":1,\"tu\\u0072n\":2}"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "duplicate key \"turn\""));
	/* a \u0000 in an unknown key is fine; UTF-8 surrogate pair decodes */
	CU_ASSERT_EQUAL(parse("{\"a\\u0000\":1,\"type\":\"\\ud83d\\ude00\"}"), 0);
	CU_ASSERT_STRING_EQUAL(rec.type, "\xf0\x9f\x98\x80");
}

struct bad_case {
	const char *json, *fragment;
};

static void test_invalid(void)
{
	static const struct bad_case cases[] = {
		{"", "must be a JSON object"},
		{"[1,2]", "must be a JSON object"},
		{"{\"timestamp\":1", "',' or '}' expected"},
		{"{\"timestamp\":1,}", "object key expected"},
		{"{\"timestamp\":\"1\"}", "must be a number"},
		{"{\"timestamp\":NaN}", "must be a number"},
		{"{\"timestamp\":Infinity}", "must be a number"},
		{"{\"timestamp\":1e999}", "out of range"},
		{"{\"timestamp\":01}", "leading zero"},
		{"{\"input_length\":5.0}", "must be an integer"},
		{"{\"input_length\":1e2}", "must be an integer"},
		{"{\"input_length\":99999999999999999999}", "out of the 64-bit"},
		{"{\"input_length\":null}", "must be an integer"},
		{"{\"hash_ids\":[1,-2]}", "non-negative"},
		{"{\"hash_ids\":[1,2.5]}", "must be integers"},
		{"{\"hash_ids\":[1,\"2\"]}", "must be integers"},
		{"{\"hash_ids\":[1,2}", "',' or ']' expected"},
		{"{\"hash_ids\":[1,]}", "must be integers"},
		{"{\"hash_ids\":[18446744073709551616]}", "out of the 64-bit"},
		{"{\"hash_ids\":[9223372036854775808]}", "out of the 64-bit"},
		{"{\"hash_ids\":1}", "must be an array"},
		{"{\"type\":5}", "must be a string"},
		{"{\"type\":\"abc}", "unterminated string"},
		{"{\"type\":\"a\\x\"}", "bad escape"},
		{"{\"type\":\"\\ud800\"}", "surrogate"},
		{"{\"type\":\"\xff\"}", "invalid UTF-8"},
		{"{\"type\":\"\xc0\xaf\"}", "invalid UTF-8"}, /* overlong */
		{"{\"type\":\"a\tb\"}", "control character"},
		{"{\"timestamp\":1,\"timestamp\":2}", "duplicate key \"timestamp\""},
		{"{\"a\":tru}", "invalid value"},
		{"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]"
		 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		 "nested deeper"},
		{"{\"a\":1} x", "text after the record"},
		{"{\"a\":1}{\"b\":2}", "text after the record"},
		{"\xef\xbb\xbf{\"a\":1}", "byte order mark"},
		{"{\"a\":-}", "expected a number"},
		{"{\"a\":1.}", "digit expected after '.'"},
		{"{\"a\":1e}", "digit expected in exponent"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].json);

		CU_ASSERT_EQUAL(rc, -1);
		if (!strstr(msg, cases[i].fragment)) {
			fprintf(stderr, "\ncase %zu: '%s' gave '%s', expected '%s'\n", i,
				cases[i].json, msg, cases[i].fragment);
			CU_FAIL("wrong message");
		}
	}
	/* a NUL byte inside the line */
	{
		const char s[] = "{\"a\":1\0}";
		rec.max_ids = 10;
		CU_ASSERT_EQUAL(kv_record_parse(s, s + sizeof(s) - 1, &rec, msg, sizeof(msg)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, "NUL"));
	}
}

static void test_limit(void)
{
	const char *s = "{\"hash_ids\":[1,2,3,4,5,6]}";

	rec.max_ids = 5;
	CU_ASSERT_EQUAL(kv_record_parse(s, s + strlen(s), &rec, msg, sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "more than 5 entries"));
	rec.max_ids = 6;
	CU_ASSERT_EQUAL(kv_record_parse(s, s + strlen(s), &rec, msg, sizeof(msg)), 0);
}

static int cleanup(void)
{
	free(rec.ids);
	memset(&rec, 0, sizeof(rec));
	return 0;
}

int suite_record(void)
{
	CU_pSuite s = CU_add_suite("record", NULL, cleanup);

	return !s || !CU_add_test(s, "valid records", test_valid) ||
	       !CU_add_test(s, "invalid records", test_invalid) ||
	       !CU_add_test(s, "hash_ids limit", test_limit);
}
