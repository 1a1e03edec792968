#!/bin/sh
# Prints one line, then exits with the given status.
echo "about to exit $1"
exit "$1"
