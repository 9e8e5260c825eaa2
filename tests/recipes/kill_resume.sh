#!/usr/bin/env bash
# kill -9 robustness of the main job's training state (issue 15, acceptance 4): runs shears_main
# (quick scale, small limits, --drop-path 0.1, a training state saved every step) and kills it with
# SIGKILL at random moments -- half after a random delay, half the moment a temp file of a save
# appears (during saving) -- then resumes from whatever state is on disk, until the run completes;
# repeats such interrupted runs until KILLS kills were made. Checks and prints:
#   corrupt  files present after a kill that do not load (the resume that follows fails to load
#            the training state; a completed run's checkpoint differs from the reference);
#   stray    temp files of a killed writer still present after the next save of the same target
#            (and any temp file left at the end);
#   mismatch completed interrupted runs whose final weights (vit_fmnist.safetensors) or final
#            training state differ by a byte from the uninterrupted reference run.
# <scratch dir>/pids.txt lists every attempt's pid (temp files are named after it).
# Usage: kill_resume.sh <shears_main binary> <scratch dir> [KILLS=30] [SEED=1]
set -uo pipefail
main=$1
dir=$2
kills_wanted=${3:-30}
RANDOM=${4:-1}
rm -rf "$dir" && mkdir -p "$dir"
args=(--scale quick --epochs 2 --train-limit 384 --batch-size 32 --eval-limit 100 --log-every 4 --threads 2
      --pruning-rows=false --drop-path 0.1 --save-every 1 --mix-prob 0.5 --erase 0.25 --crop-padding 2)

"$main" "${args[@]}" --out "$dir/ref" > "$dir/ref.txt" 2>&1 || { echo "FAIL: the reference run failed"; tail "$dir/ref.txt"; exit 1; }

kills=0 kills_in_save=0 corrupt=0 stray=0 mismatch=0 runs=0 resumes=0 completed=0 temps_seen=0
mtime() { stat -c "%i %y" "$1" 2>/dev/null || echo none; }
while [ $kills -lt $kills_wanted ]; do
  runs=$((runs + 1))
  out="$dir/run$runs"
  mkdir -p "$out"
  state="$out/train_state.safetensors"
  pending=()          # temp files a killed process left, to be gone after the next save
  pending_mtime=none  # the state's mtime when they were recorded
  while :; do
    resume=()
    [ -f "$state" ] && resume=(--resume "$state") && resumes=$((resumes + 1))
    log="$out/attempt$kills.txt"
    "$main" "${args[@]}" --out "$out" "${resume[@]}" > "$log" 2>&1 &
    pid=$!
    echo "run $runs attempt pid $pid resume=${#resume[@]}" >> "$dir/pids.txt"
    killed=0
    if [ $kills -lt $kills_wanted ]; then  # after the last kill the run goes on to its end
      if [ $((RANDOM % 2)) -eq 0 ]; then  # a random moment (start-up, training, saving, evaluation)
        sleep "$((RANDOM % 2)).$(printf %03d $((RANDOM % 1000)))"
        during_save=0
      else                                # the moment a save is under way (its temp file exists)
        skip=$((RANDOM % 6))              # not always the first save after the start
        deadline=$((SECONDS + 30))
        while [ $SECONDS -lt $deadline ] && kill -0 $pid 2> /dev/null; do
          if compgen -G "$out/*.tmp.$pid" > /dev/null; then
            [ $skip -eq 0 ] && break
            skip=$((skip - 1))
            while compgen -G "$out/*.tmp.$pid" > /dev/null; do :; done
          fi
        done
        during_save=1
      fi
      kill -9 $pid 2> /dev/null && killed=1
    fi
    if [ $killed -eq 1 ]; then
      wait $pid 2> /dev/null
      kills=$((kills + 1))
      left=$(compgen -G "$out/*.tmp.*")
      [ -n "$left" ] && temps_seen=$((temps_seen + $(echo "$left" | wc -l)))
      [ $during_save -eq 1 ] && [ -n "$left" ] && kills_in_save=$((kills_in_save + 1))
      # temps of earlier kills must be gone once a later save of the state happened
      if [ ${#pending[@]} -gt 0 ] && [ "$(mtime "$state")" != "$pending_mtime" ]; then
        for f in "${pending[@]}"; do
          [ -e "$f" ] && { stray=$((stray + 1)); echo "stray after the next save: $f"; }
        done
        pending=()
      fi
      if [ -n "$left" ]; then
        mapfile -t pending <<< "$left"
        pending_mtime=$(mtime "$state")
      fi
      continue
    fi
    wait $pid
    rc=$?
    if [ $rc -ne 0 ]; then  # a resume that cannot load what the kill left
      corrupt=$((corrupt + 1))
      echo "corrupt (run $runs exited $rc):"; tail -3 "$log"
      break
    fi
    completed=$((completed + 1))
    for f in "${pending[@]}"; do [ -e "$f" ] && { stray=$((stray + 1)); echo "stray after the next save: $f"; }; done
    if ! cmp -s "$out/vit_fmnist.safetensors" "$dir/ref/vit_fmnist.safetensors" ||
       ! cmp -s "$state" "$dir/ref/train_state.safetensors"; then
      mismatch=$((mismatch + 1))
      echo "mismatch: run $runs ended at different bytes than the uninterrupted run"
    fi
    break
  done
  [ $kills -ge $kills_wanted ] && break
done
left_end=$(find "$dir" -name '*.tmp.*' -path "$dir/run*" | while read -r f; do
  d=$(dirname "$f"); [ -f "$d/vit_fmnist.safetensors" ] && echo "$f"; done | wc -l)
stray=$((stray + left_end))
echo "kill -9 run: $kills kills ($kills_in_save during a save), $runs interrupted runs, $resumes resumes, $completed completed;" \
     "temp files left by kills $temps_seen; corrupt files $corrupt; stray temp files after the next save $stray;" \
     "completed runs differing from the uninterrupted one $mismatch"
[ $corrupt -eq 0 ] && [ $stray -eq 0 ] && [ $mismatch -eq 0 ] && [ $completed -ge 1 ]
