#!/usr/bin/env bash
# slurm-up.sh brings up a single-node Slurm cluster for flywheel's tests and
# demos: munge, a private MariaDB, slurmdbd (so that sacct works),
# slurmctld and slurmd, with two fake GPUs declared as gres so that
# --gres=gpu:1 jobs schedule. Everything lives in one directory
# ($FLYWHEEL_SLURM_DIR, default /tmp/flywheel-slurm): configs, state, logs,
# pid files and a private munge socket and key, so that nothing goes under
# /etc and a second cluster could sit beside the first.
#
# It is idempotent: what runs is left running, what died (or was never
# started) is started, and a changed config restarts the Slurm daemons.
# It installs the Debian packages it needs when they are missing, and
# must run as root (the daemons run as root on this throwaway cluster).
#
# On success the last line on stdout is
#   export SLURM_CONF=<dir>/etc/slurm.conf
# so a caller can `eval "$(scripts/slurm-up.sh | tail -n 1)"`. Progress
# goes to stderr. Stop it with scripts/slurm-down.sh.
set -euo pipefail

DIR=${FLYWHEEL_SLURM_DIR:-/tmp/flywheel-slurm}
DB_PORT=${FLYWHEEL_SLURM_DB_PORT:-3307}
CTLD_PORT=${FLYWHEEL_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${FLYWHEEL_SLURM_SLURMD_PORT:-6818}
DBD_PORT=${FLYWHEEL_SLURM_DBD_PORT:-6819}
WAIT_SECONDS=${FLYWHEEL_SLURM_WAIT:-60}

log() { echo "slurm-up: $*" >&2; }
die() {
	log "error: $*"
	for f in "$DIR"/log/*.log; do
		[ -f "$f" ] || continue
		echo "--- tail $f" >&2
		tail -n 20 "$f" >&2 || true
	done
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root: the daemons and mknod need it"

# --- packages -------------------------------------------------------------

install_packages() {
	local missing=()
	command -v slurmctld >/dev/null || missing+=(slurm-wlm)
	command -v munged >/dev/null || missing+=(munge)
	command -v slurmdbd >/dev/null || missing+=(slurmdbd)
	command -v mariadbd >/dev/null || missing+=(mariadb-server)
	# The plugin slurmdbd stores jobs with; it ships alone.
	dpkg -s slurm-wlm-mysql-plugin >/dev/null 2>&1 || missing+=(slurm-wlm-mysql-plugin)
	if [ "${#missing[@]}" -eq 0 ]; then
		return
	fi
	log "installing ${missing[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge slurmdbd \
		slurm-wlm-mysql-plugin mariadb-server >&2
}

# --- processes ------------------------------------------------------------

# alive PIDFILE: the process named in PIDFILE exists and is not a zombie.
# kill -0 is not enough here: a dead daemon can linger as a zombie when
# PID 1 reaps slowly.
alive() {
	local pid state
	[ -s "$1" ] || return 1
	pid=$(tr -dc '0-9' <"$1")
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
	# The state is the first field after the parenthesised command name.
	state=$(sed -e 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
	[ "$state" != Z ] && [ "$state" != X ]
}

# stop PIDFILE: terminate the process and wait for it to go.
stop() {
	local pid
	alive "$1" || return 0
	pid=$(tr -dc '0-9' <"$1")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		alive "$1" || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	sleep 0.2
}

# wait_for DESCRIPTION COMMAND...: retry COMMAND until it succeeds.
wait_for() {
	local what=$1
	shift
	for _ in $(seq 1 $((WAIT_SECONDS * 5))); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	die "timed out waiting for $what"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- configuration --------------------------------------------------------

# put FILE MODE: write stdin to FILE when its content differs; report
# whether it changed through the exit status (0 = changed).
put() {
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	cat >"$tmp"
	chmod "$2" "$tmp"
	if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
		rm -f "$tmp"
		return 1
	fi
	mv "$tmp" "$1"
	return 0
}

write_configs() {
	local host node changed=1
	host=$(hostname -s)
	# The node line is what slurmd detects, without its NodeName= (we
	# name the node ourselves) and without the UpTime line.
	node=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')
	[ -n "$node" ] || die "slurmd -C printed nothing"

	put "$DIR/etc/slurm.conf" 0644 <<EOF && changed=0
# Written by flywheel scripts/slurm-up.sh; rewritten on every run.
ClusterName=flywheel
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups on these machines: --mem is scheduled and accounted, not enforced.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
# Schedule a batch job as soon as it is submitted or released rather
# than up to 3 s later (the default batch_sched_delay): on a test cluster
# that delay is most of a trivial job's latency.
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
ReturnToService=2
MinJobAge=600
MailProg=/bin/true
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# slurmctld -> slurmdbd ignores AuthInfo and reads the socket from here.
AccountingStoragePass=$DIR/munge/munge.socket
AccountingStoreFlags=job_comment
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 $node Gres=gpu:fake:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

	put "$DIR/etc/gres.conf" 0644 <<EOF && changed=0
NodeName=$host Name=gpu Type=fake File=$DIR/dev/fakegpu[0-1] AutoDetect=off
EOF

	# slurmdbd refuses a config readable by others.
	put "$DIR/etc/slurmdbd.conf" 0600 <<EOF && changed=0
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
DbdAddr=127.0.0.1
DbdHost=$host
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=root
StorageLoc=slurm_acct_db
EOF
	return $changed
}

# --- daemons --------------------------------------------------------------

start_munge() {
	if [ ! -s "$DIR/munge/munge.key" ]; then
		mungekey --create --keyfile="$DIR/munge/munge.key" >&2
		chmod 0400 "$DIR/munge/munge.key"
	fi
	alive "$DIR/run/munged.pid" && return
	log "starting munged"
	rm -f "$DIR/munge/munge.socket" "$DIR/munge/munge.socket.lock"
	munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
		--pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
		--seed-file="$DIR/munge/munged.seed"
	wait_for "munged" test -S "$DIR/munge/munge.socket"
}

start_mariadb() {
	if [ ! -d "$DIR/mysql/data/mysql" ]; then
		log "initialising MariaDB in $DIR/mysql/data"
		mariadb-install-db --no-defaults --datadir="$DIR/mysql/data" --user=root \
			--auth-root-authentication-method=normal --skip-test-db >"$DIR/log/mariadb-install.log" 2>&1 ||
			die "mariadb-install-db failed"
	fi
	alive "$DIR/run/mariadbd.pid" && return
	log "starting mariadbd on 127.0.0.1:$DB_PORT"
	setsid mariadbd --no-defaults --datadir="$DIR/mysql/data" --user=root \
		--bind-address=127.0.0.1 --port="$DB_PORT" --socket="$DIR/mysql/mysqld.sock" \
		--pid-file="$DIR/run/mariadbd.pid" --skip-log-bin \
		--log-error="$DIR/log/mariadbd.log" </dev/null >/dev/null 2>&1 &
	wait_for "MariaDB on port $DB_PORT" port_open "$DB_PORT"
}

start_slurmdbd() {
	alive "$DIR/run/slurmdbd.pid" && return
	log "starting slurmdbd"
	# slurmdbd has no -f: it reads slurmdbd.conf beside $SLURM_CONF.
	SLURM_CONF="$DIR/etc/slurm.conf" slurmdbd
	wait_for "slurmdbd on port $DBD_PORT" port_open "$DBD_PORT"
}

start_slurmctld() {
	alive "$DIR/run/slurmctld.pid" && return
	log "starting slurmctld"
	slurmctld -f "$DIR/etc/slurm.conf"
	wait_for "slurmctld" scontrol ping
}

start_slurmd() {
	alive "$DIR/run/slurmd.pid" && return
	log "starting slurmd"
	mkdir -p "$DIR/spool/$(hostname -s)"
	slurmd -f "$DIR/etc/slurm.conf"
}

# node_ready: the node can take jobs. A node left drained or down by an
# earlier run is resumed.
node_ready() {
	local state
	state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1)
	case "$state" in
	idle | mixed | allocated | completing) return 0 ;;
	drain* | down | draining | drained)
		scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
		;;
	esac
	return 1
}

main() {
	install_packages
	mkdir -p "$DIR"/{etc,state,spool,log,run,dev,munge,mysql}
	chmod 0700 "$DIR/munge"
	# Fake GPUs: gres refuses a count-only GPU and regular files, but takes
	# character devices cloned from /dev/null.
	for i in 0 1; do
		[ -c "$DIR/dev/fakegpu$i" ] || mknod -m 0666 "$DIR/dev/fakegpu$i" c 1 3
	done
	export SLURM_CONF="$DIR/etc/slurm.conf"
	if write_configs; then
		log "configuration changed: restarting the Slurm daemons"
		stop "$DIR/run/slurmd.pid"
		stop "$DIR/run/slurmctld.pid"
		stop "$DIR/run/slurmdbd.pid"
	fi
	start_munge
	start_mariadb
	start_slurmdbd
	start_slurmctld
	start_slurmd
	wait_for "the node to be idle (sinfo -N)" node_ready
	log "cluster up in $DIR"
	echo "export SLURM_CONF=$SLURM_CONF"
}

main "$@"
