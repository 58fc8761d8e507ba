/*
 * cmd_sim_timed.h - `kvsim sim --timed`: the hook cmd_sim.c uses to hand timed runs over.
 */
#ifndef KV_CMD_SIM_TIMED_H
#define KV_CMD_SIM_TIMED_H

/* 1 when the arguments ask for a timed run: --timed, --instances, or any option only timed
 * mode has (router, cost model, batching, load, latency outputs). */
int sim_timed_wanted(int argc, char **argv);

/* `kvsim sim` in timed mode; returns the exit status. */
int sim_timed_main(int argc, char **argv);

#endif
