#!/bin/sh
# Prints N numbered lines on stdout and on stderr, an ANSI-coloured line, a
# tab, and two revision announcements (the last one must win).
n=${1:-20}
i=1
while [ "$i" -le "$n" ]; do
  echo "out $i"
  echo "err $i" >&2
  i=$((i + 1))
done
printf '\033[31mred\033[0m\tafter-tab\n'
echo "Deploying revision backend-00093-x55"
echo "Serving revision backend-00094-abc at 100%"
