#!/bin/sh
# slurm-local.sh - a throwaway single-node Slurm (slurmctld + slurmd + munged) on localhost.
#
#   tests/sweep/slurm-local.sh WORKDIR TIMEOUT_S COMMAND [ARG...]
#
# Generates a configuration into WORKDIR (which must exist and be empty), starts munged,
# slurmctld and slurmd there as the current user (root), waits until the node is idle, runs
# COMMAND with SLURM_CONF pointing at the generated slurm.conf, then stops the daemons it
# started (by their PIDs) whatever happened. The whole run is bounded by TIMEOUT_S seconds.
#
# Exit status: COMMAND's, or 77 when a local Slurm cannot run here (the reason is printed on
# stderr: missing programs, a daemon that does not start, a node that never comes up), or
# 124 when COMMAND did not finish in time.
set -u

W=$1 LIMIT=$2
shift 2
skip() { echo "slurm-local: SKIP: $*" >&2; exit 77; }

for p in munged mungekey slurmctld slurmd sbatch sinfo; do
	command -v "$p" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$p" >/dev/null 2>&1 || skip "'$p' is not installed (Debian: slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root here (uid $(id -u))"

start=$(date +%s)
left() { echo $((LIMIT - ($(date +%s) - start))); }
pids=""
# The processes of a job (slurmstepd, the job script and what it runs) are not children of
# the daemons and outlive them: cancel every job of this private cluster first, then kill by
# PID what is left of them (the job scripts live under $W/spool; their parent is slurmstepd).
stop_jobs() {
	[ -n "${SLURM_CONF:-}" ] || return 0
	timeout 5 scancel --full --user="$(id -un)" 2>/dev/null
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(timeout 2 squeue -h -o %i 2>/dev/null)" ] && break
		sleep 0.3
	done
	for p in $(pgrep -f "$W/spool/" 2>/dev/null); do
		[ "$p" = $$ ] && continue
		pp=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)
		kids=$(pgrep -P "$p" 2>/dev/null)
		kill -9 "$p" $kids 2>/dev/null
		case "$(cat "/proc/$pp/cmdline" 2>/dev/null | tr '\0' ' ')" in
		slurmstepd*) kill -9 "$pp" 2>/dev/null ;;
		esac
	done
}
# $pids are the `timeout` wrappers: each passes SIGTERM on to its daemon and exits when the
# daemon has. A daemon slow to stop (slurmctld saving its state on a loaded machine) is
# killed with its wrapper: SIGKILL to the wrapper alone would leave the daemon running.
stop() {
	stop_jobs
	for p in $pids; do kill "$p" 2>/dev/null; done
	for i in $(seq 1 33); do
		alive=""
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
		[ -z "$alive" ] && break
		sleep 0.3
	done
	for p in $alive; do
		pkill -9 -P "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
}
trap 'stop' EXIT
trap 'exit 130' INT TERM

host=$(hostname -s 2>/dev/null || hostname)
port=$((20000 + $$ % 20000))
# two ports (slurmctld, slurmd) that nothing listens on: other engineers' or CI's local Slurms
# may run beside this one, and a port in use made slurmd exit (reported as a SKIP)
if command -v ss >/dev/null 2>&1; then
	for i in $(seq 1 50); do
		[ -z "$(ss -Htan "( sport = :$port or sport = :$((port + 1)) )" 2>/dev/null)" ] && break
		port=$((20000 + (port - 20000 + 2) % 40000))
	done
fi
mkdir -p "$W/state" "$W/spool" "$W/munge" || exit 1
chmod 700 "$W/munge"

mungekey --create --keyfile="$W/munge/munge.key" >/dev/null 2>&1 ||
	dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 600 "$W/munge/munge.key"
# Every daemon runs in the foreground under `timeout`, so that even if this script is killed
# with SIGKILL (and its trap cannot run) the daemons end within LIMIT + 30 seconds.
life=$((LIMIT + 30))
timeout -s KILL $life munged --foreground --force --key-file="$W/munge/munge.key" \
	--socket="$W/munge/munge.sock" --pid-file="$W/munge/munged.pid" \
	--log-file="$W/munge/munged.log" --seed-file="$W/munge/munged.seed" \
	>"$W/munged.out" 2>&1 &
pids="$!"
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ -S "$W/munge/munge.sock" ] && break
	kill -0 $pids 2>/dev/null || break
	sleep 0.3
done
[ -S "$W/munge/munge.sock" ] ||
	skip "munged does not start: $(tail -n 3 "$W/munged.out" "$W/munge/munged.log" 2>/dev/null | tr '\n' ' ')"

cat >"$W/slurm.conf" <<CONF
ClusterName=kvsimtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$W/munge/munge.sock
CredType=cred/munge
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
MaxArraySize=10001
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=256 State=UNKNOWN
PartitionName=kvsim Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$W/slurm.conf"

timeout -s KILL $life slurmctld -D -i -f "$SLURM_CONF" >"$W/slurmctld.out" 2>&1 &
pids="$pids $!"
timeout -s KILL $life slurmd -D -f "$SLURM_CONF" -N "$host" >"$W/slurmd.out" 2>&1 &
pids="$pids $!"

# Wait for the node to be idle (at most a third of the budget).
up=""
while [ "$(left)" -gt $((LIMIT * 2 / 3)) ]; do
	for p in $pids; do
		kill -0 "$p" 2>/dev/null || skip "a daemon exited at start: $(tail -n 5 "$W"/slurmctld.out "$W"/slurmd.out "$W"/slurmctld.log "$W"/slurmd.log 2>/dev/null | grep -iE 'error|fatal' | head -n 5 | tr '\n' ' ')"
	done
	state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1)
	case "$state" in idle*) up=1; break ;; esac
	sleep 0.5
done
[ -n "$up" ] || skip "the node never became idle (state '${state:-none}'): $(grep -ihE 'error|fatal' "$W"/slurmctld.log "$W"/slurmd.log 2>/dev/null | tail -n 5 | tr '\n' ' ')"

timeout "$(left)" "$@"
rc=$?
[ $rc -eq 124 ] && echo "slurm-local: '$*' did not finish in ${LIMIT}s" >&2
exit $rc
