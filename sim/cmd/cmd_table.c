/* cmd_table.c - the subcommand table; the first row is the default command. */
#include "cmd.h"

extern const struct kv_cmd cmd_sim;
extern const struct kv_cmd cmd_sweep;
extern const struct kv_cmd cmd_mrc;
extern const struct kv_cmd cmd_convert;
extern const struct kv_cmd cmd_analyze;
extern const struct kv_cmd cmd_gen;
extern const struct kv_cmd cmd_serve;
extern const struct kv_cmd cmd_replay;
extern const struct kv_cmd cmd_validate;

const struct kv_cmd *const kv_cmds[] = {
	&cmd_sim,
	&cmd_sweep,
	&cmd_mrc,
	&cmd_convert,
	&cmd_analyze,
	&cmd_gen,
	&cmd_serve,
	&cmd_replay,
	&cmd_validate,
	NULL,
};
