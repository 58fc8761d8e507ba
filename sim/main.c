/*
 * main.c - the kvsim entry point: picks the subcommand (sim by default) from cmd_table.c.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static void usage(FILE *f)
{
	fprintf(f,
		"kvsim %s - KV-cache (prefix cache) simulator for LLM serving traces\n\n"
		"usage: kvsim [COMMAND] [OPTIONS] [TRACE]\n\n"
		"commands (sim is the default):\n",
		KVSIM_VERSION);
	for (int i = 0; kv_cmds[i]; i++)
		fprintf(f, "  %-10s %s\n", kv_cmds[i]->name, kv_cmds[i]->summary);
	fprintf(f, "\n`kvsim COMMAND --help` documents each command's options.\n"
		   "example: kvsim --policy lru --capacity 64GiB trace.jsonl\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
		printf("kvsim %s\n", KVSIM_VERSION);
		return 0;
	}
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
			 !strcmp(argv[1], "help"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && argv[1][0] != '-')
		for (int i = 0; kv_cmds[i]; i++)
			if (!strcmp(argv[1], kv_cmds[i]->name))
				return kv_cmds[i]->main(argc - 1, argv + 1);
	/* a word that is neither a command nor a file: most likely a mistyped command (a
	 * trace path has a '.' or a '/'), said so rather than "unexpected argument" */
	if (argc > 2 && argv[1][0] != '-' && !strpbrk(argv[1], "./") && access(argv[1], F_OK)) {
		fprintf(stderr, "kvsim: unknown command '%s' (nor is it a trace file)\n\n",
			argv[1]);
		usage(stderr);
		return 2;
	}
	/* no command word: sim, with argv[0] standing in for the command name */
	return kv_cmds[0]->main(argc, argv);
}
