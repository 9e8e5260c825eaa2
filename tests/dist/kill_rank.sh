#!/usr/bin/env bash
# Killing one rank of a 2-rank job ends the job with an error in bounded time (issue 17): rank 1 of
# dist_kill_check SIGKILLs itself in the middle of an all-reduce loop; mpirun must end rank 0 and
# exit non-zero within 60 s, naming the killed rank (Open MPI's default: abort the job when a
# process dies without MPI_Finalize). Second case: rank 1 fails with an error (WorldSession::finish
# with status 3 aborts the job instead of finalizing): same bound, and the message names the rank.
#   kill_rank.sh DIST_KILL_CHECK MPIRUN ARGS... (the launcher and its flags up to -np)
set -uo pipefail
prog=$1
shift
start=$(date +%s)
out=$(timeout 60 "$@" 2 "$prog" 1 20 2>&1)
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out"
echo "kill_rank: mpirun exit status $rc after ${elapsed} s"
if [[ $rc -eq 124 ]]; then
  echo "FAIL: the job hung after rank 1 was killed (still running after 60 s)"
  exit 1
fi
if [[ $rc -eq 0 ]]; then
  echo "FAIL: mpirun exited 0 although rank 1 was killed"
  exit 1
fi
if ! grep -q "killing myself" <<<"$out"; then
  echo "FAIL: rank 1 did not reach its kill point"
  exit 1
fi
if grep -q "NOT ended" <<<"$out"; then
  echo "FAIL: rank 0 ran to the end"
  exit 1
fi
if ! grep -Eqi "signal 9|killed" <<<"$out"; then
  echo "FAIL: mpirun's message does not name the killed rank"
  exit 1
fi
echo "kill_rank: ok (job ended with status $rc in ${elapsed} s)"

start=$(date +%s)
out=$(timeout 60 "$@" 2 "$prog" 1 20 error 2>&1)
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out"
echo "kill_rank: mpirun exit status $rc after ${elapsed} s (rank 1 failed with status 3)"
if [[ $rc -eq 124 || $rc -eq 0 ]]; then
  echo "FAIL: a rank that failed with an error did not end the job (status $rc)"
  exit 1
fi
if ! grep -q "rank 1 of 2: exit status 3; aborting the other ranks" <<<"$out"; then
  echo "FAIL: the failing rank did not say it aborts the job"
  exit 1
fi
echo "kill_rank: ok (error case: job ended with status $rc in ${elapsed} s)"
