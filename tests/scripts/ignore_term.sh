#!/bin/sh
# Ignores SIGTERM (and so does its child sleep), says "ready", then waits.
trap '' TERM
sleep 300 &
echo $! > "$1"
echo ready
wait
