#!/bin/bash
# CPU time each of a run's processes (Ray's, the driver's, W&B's) uses over a window, from /proc/<pid>/stat.
# Usage, while a run trains: benchmarks/process_cpu.sh [SECONDS]   (100 ticks = one core busy for one second)
window=${1:-30}
pids=$(pgrep -f "ray|toolcall_dist|wandb")
declare -A before
for p in $pids; do before[$p]=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null); done
sleep "$window"
for p in $pids; do
  after=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || continue
  [ -z "$after" ] && continue
  echo "$((after - ${before[$p]:-0})) $(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-70)"
done | sort -rn | awk -v w="$window" -v cores="$(nproc)" \
  '{print; s += $1} END {printf "total %d ticks of %d (%d cores x %d s)\n", s, cores * w * 100, cores, w}'
