/*
 * cmd_validate.c - `kvsim validate`: `kvsim replay --validate` (sequential, one output
 * token, per-request cached tokens compared with the simulator's prediction).
 */
#include "cmd.h"

/* In cmd_replay.c. */
int replay_command(int argc, char **argv, int validate);

static int validate_main(int argc, char **argv)
{
	return replay_command(argc, argv, 1);
}

const struct kv_cmd cmd_validate = {
	.name = "validate",
	.summary = "check a server's per-request cached tokens against the simulator",
	.main = validate_main,
};
