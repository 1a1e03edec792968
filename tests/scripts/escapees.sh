#!/bin/sh
# Starts processes that leave the run's process group or tree, writes their
# pids one per line to $1, says "ready", then waits (or, with $2 = "exit",
# exits at once and leaves them behind):
#   - `timeout 300 ...`: timeout moves itself into its own process group;
#     both timeout and its child (a sleep) are written;
#   - `setsid ...`: a grandchild in its own session;
#   - a double fork: a sleep whose parent exits at once, so it is
#     re-parented (to the subreaper, or init).
pidfile=$1
timeout 300 sh -c 'echo $$ >> "$1"; exec sleep 300' timeout-child "$pidfile" &
echo $! >> "$pidfile"
setsid sh -c 'echo $$ >> "$1"; exec sleep 300' setsid-child "$pidfile" &
sh -c 'sh -c '\''echo $$ >> "$1"; exec sleep 300'\'' daemon "$1" &' middle "$pidfile" &
while [ "$(wc -l < "$pidfile")" -lt 4 ]; do sleep 0.01; done
echo ready
if [ "$2" = exit ]; then exit 0; fi
wait
