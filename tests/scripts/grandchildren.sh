#!/bin/sh
# Starts grandchildren (two background sleeps and a nested shell with its
# own sleep), writes their pids one per line to $1, says "ready", then waits.
pidfile=$1
sleep 300 &
echo $! >> "$pidfile"
sleep 300 &
echo $! >> "$pidfile"
sh -c 'sleep 300 & echo $! >> "$1"; echo $$ >> "$1"; wait' nested "$pidfile" &
# wait for the nested shell to have written both of its pids
while [ "$(wc -l < "$pidfile")" -lt 4 ]; do sleep 0.01; done
echo ready
wait
