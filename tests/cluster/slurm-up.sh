#!/usr/bin/env bash
# Start a one-node Slurm cluster on this host for the `slurm` tests.
#
# Installs Debian's slurm-wlm and munge when missing, writes a slurm.conf that describes
# this machine (CPUs and memory as `slurmd -C` reads them), starts munged, slurmctld and
# slurmd, and waits until `sinfo` shows the node idle. Safe to run again: what already
# runs is left running. Needs root (as CI and this project's test machines have).
set -euo pipefail

say() { echo "slurm-up: $*"; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

if sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    say "already up: $(sinfo -h -o '%N %c CPUs %m MB %T')"
    exit 0
fi

conf=/etc/slurm/slurm.conf
host=$(hostname -s)
# slurmd -C prints "NodeName=<host> CPUs=... RealMemory=... UpTime=..."; keep the node line
node=$(slurmd -C | head -n 1 | sed -e 's/ UpTime=.*//')
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
cat >"$conf.tmp" <<CONF
# Written by tests/cluster/slurm-up.sh: a one-node cluster on $host.
ClusterName=snakeyard
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# jobs that ask for no memory get this much per CPU, not the whole node
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
# finished jobs stay visible to `scontrol show job` for 30 minutes (tests read them back)
MinJobAge=1800
# a killed job's processes get SIGTERM, then SIGKILL this many seconds later
KillWait=10
$node State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
mv "$conf.tmp" "$conf"

if ! pgrep -x munged >/dev/null; then
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        chmod 400 /etc/munge/munge.key
    fi
    chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
    say "starting munged"
    munged --force
fi
if ! pgrep -x slurmctld >/dev/null; then
    say "starting slurmctld"
    slurmctld
fi
if ! pgrep -x slurmd >/dev/null; then
    say "starting slurmd"
    slurmd
fi

for _ in $(seq 60); do
    state=$(sinfo -h -o '%T' 2>/dev/null | head -n 1 || true)
    case "$state" in
    idle | mixed | allocated)
        say "up: $(sinfo -h -o '%N %c CPUs %m MB %T')"
        exit 0
        ;;
    esac
    sleep 1
done
say "the node did not become idle within 60 s; sinfo says: ${state:-nothing}" >&2
scontrol show node >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
