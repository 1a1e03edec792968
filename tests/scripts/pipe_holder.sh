#!/bin/sh
# Leaves a grandchild holding stdout/stderr open, writes its pid to $1, and
# exits 0 at once.
sleep 300 &
echo $! > "$1"
echo "parent done"
exit 0
