#!/usr/bin/env bash
# slurm-down.sh stops the single-node cluster that slurm-up.sh started in
# $FLYWHEEL_SLURM_DIR (default /tmp/flywheel-slurm), daemons in the
# reverse order of their start. With --purge it also deletes the
# directory: configs, job accounting, the munge key.
set -euo pipefail

DIR=${FLYWHEEL_SLURM_DIR:-/tmp/flywheel-slurm}

# alive PIDFILE: the process exists and is not a zombie (see slurm-up.sh).
alive() {
	local pid state
	[ -s "$1" ] || return 1
	pid=$(tr -dc '0-9' <"$1")
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
	state=$(sed -e 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
	[ "$state" != Z ] && [ "$state" != X ]
}

stop() {
	local pid
	alive "$DIR/run/$1.pid" || return 0
	pid=$(tr -dc '0-9' <"$DIR/run/$1.pid")
	echo "slurm-down: stopping $1 ($pid)" >&2
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		alive "$DIR/run/$1.pid" || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

for d in slurmd slurmctld slurmdbd mariadbd munged; do
	stop "$d"
done

if [ "${1:-}" = --purge ]; then
	rm -rf "$DIR"
	echo "slurm-down: removed $DIR" >&2
fi
