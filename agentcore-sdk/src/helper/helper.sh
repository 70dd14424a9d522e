# agentcore-sdk session helper. Placed in the session by agentcore-sdk at
# /tmp/.agentcore-sdk-<uid>/<hash of this text>/helper (every version has its own file, every
# user their own directory); run as `bash helper SUBCOMMAND ...`.
# It uses bash and coreutils only. Exit codes: 0 ok, 2 usage, 3 not found, 4 exists or taken,
# 5 wrong state, 7 checksum mismatch; a message on stderr says more.
set -u
H=$0
STATE="${HOME:-/root}/.agentcore"
PROCS="$STATE/processes"
CHUNK=262144

die() { printf 'agentcore-helper: %s\n' "$1" >&2; exit "${2:-2}"; }
b64() { base64 -w 0; }
unb64() { tr -- '-_' '+/' | base64 -d; }
now() { date +%s; }
# SHA-256 (hex) of stdin: OpenSSL's when there is one (several times faster), else coreutils'.
if command -v openssl >/dev/null 2>&1; then
  sha() { local h; h=$(openssl dgst -sha256 -r) || return 1; printf '%s\n' "${h%% *}"; }
else
  sha() { local h; h=$(sha256sum) || return 1; printf '%s\n' "${h%% *}"; }
fi
valid_id() { case $1 in ''|*[!A-Za-z0-9_-]*) die "bad id" ;; esac; }

# ---- processes ----------------------------------------------------------------------------
# One directory per process: spec (its start arguments), pid, runner, started, stdout,
# stderr, stdin (a FIFO, when open), stdin.count, stdin.closed, killed, exit.

proc_dir() { valid_id "$1"; printf '%s/%s' "$PROCS" "$1"; }

cmd_start() {
  local id=$1; local d; d=$(proc_dir "$id")
  mkdir -p -- "$PROCS" || die "cannot create $PROCS"
  # The runner is detached first and claims the id itself (mkdir is atomic): a start cut
  # short either did nothing or started exactly one runner, and a repeat finds it.
  setsid bash "$H" run "$@" </dev/null >/dev/null 2>&1 &
  local i=0
  while [ ! -e "$d/pid" ] && [ ! -e "$d/exit" ]; do
    i=$((i + 1)); [ "$i" -gt 600 ] && die "the process did not start within 30 s" 6
    sleep 0.05
  done
  if ! printf '%s\0' "$@" | cmp -s - "$d/spec"; then
    die "process id $id is already taken by another command" 4
  fi
  printf 'started %s\n' "$(cat -- "$d/pid" 2>/dev/null || echo 0)"
}

cmd_run() {
  local id=$1 merge=$2 stdin=$3 cwd=$4 cmd=$5
  local d; d=$(proc_dir "$id")
  mkdir -- "$d" 2>/dev/null || exit 0
  printf '%s\0' "$@" > "$d/spec"
  shift 5
  : > "$d/stdout"; : > "$d/stderr"
  now > "$d/started"
  echo "$$" > "$d/runner"
  if [ "$stdin" = 1 ]; then
    mkfifo -- "$d/stdin" && echo 0 > "$d/stdin.count"
    # Held open here (read-write, so opening never blocks) until stdin is closed: the
    # process sees end of input only then, not between two writes.
    exec 3<>"$d/stdin"
  fi
  local woke=0
  trap 'woke=1; exec 3>&-; : > "$d/stdin.closed"' USR1
  set -m # the command gets a process group of its own, which kill signals whole
  local err="$d/stderr"; [ "$merge" = 1 ] && err="$d/stdout"
  (
    exec 3>&-
    trap - USR1
    while [ $# -ge 2 ]; do export "$1=$2"; shift 2; done
    cd -- "$cwd" || exit 126
    if [ "$stdin" = 1 ]; then exec bash -c "$cmd" < "$d/stdin"; else exec bash -c "$cmd" < /dev/null; fi
  ) >> "$d/stdout" 2>> "$err" &
  local pid=$!
  echo "$pid" > "$d/pid.tmp" && mv -f -- "$d/pid.tmp" "$d/pid"
  local code
  while :; do
    woke=0; wait "$pid"; code=$?
    [ "$woke" = 1 ] || break
  done
  local sig=""
  if [ -e "$d/killed" ]; then
    sig=$(cat -- "$d/killed")
    [ "$code" = $((128 + sig)) ] || sig=""
  fi
  printf '%s %s %s\n' "$code" "${sig:--}" "$(now)" > "$d/exit.tmp"
  mv -f -- "$d/exit.tmp" "$d/exit"
}

need_proc() { [ -d "$1" ] && [ -e "$1/spec" ] || die "no such process" 3; }

cmd_kill() {
  local d; d=$(proc_dir "$1"); need_proc "$d"
  local sig=$2 scope=$3
  [ -e "$d/exit" ] && { echo ended; exit 0; }
  local pid; pid=$(cat -- "$d/pid" 2>/dev/null) || die "the process has not started" 5
  echo "$sig" > "$d/killed"
  if [ "$scope" = group ]; then kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" -- "$pid"
  else kill "-$sig" -- "$pid"; fi
  echo signalled
}

cmd_stdin() {
  local d; d=$(proc_dir "$1"); need_proc "$d"
  local offset=$2 len=$3 data=$4
  [ -p "$d/stdin" ] || die "the process was started without stdin" 5
  [ -e "$d/stdin.closed" ] && die "its stdin is closed" 5
  [ -e "$d/exit" ] && die "the process has ended" 5
  local count; count=$(cat -- "$d/stdin.count")
  # A repeated write (the same offset, already counted) is not written twice.
  if [ "$count" -ge $((offset + len)) ]; then echo "count $count"; exit 0; fi
  [ "$count" = "$offset" ] || die "stdin is at byte $count, not $offset" 5
  exec 4<>"$d/stdin"
  printf %s "$data" | unb64 >&4 || die "cannot write to stdin"
  echo $((offset + len)) > "$d/stdin.count"
  [ -e "$d/exit" ] && die "the process ended while its input was written" 5
  echo "count $((offset + len))"
}

cmd_close_stdin() {
  local d; d=$(proc_dir "$1"); need_proc "$d"
  [ -p "$d/stdin" ] || die "the process was started without stdin" 5
  [ -e "$d/stdin.closed" ] && { echo closed; exit 0; }
  [ -e "$d/exit" ] && { echo closed; exit 0; }
  kill -USR1 "$(cat -- "$d/runner")" 2>/dev/null
  local i=0
  while [ ! -e "$d/stdin.closed" ] && [ ! -e "$d/exit" ]; do
    i=$((i + 1)); [ "$i" -gt 200 ] && die "stdin did not close" 6
    sleep 0.05
  done
  echo closed
}

# Output from the given offsets until the process ended and all of it was sent, or for at
# most MAX seconds: `O offset base64` / `E offset base64` lines, `H` while idle, then
# `X code signal|- ended` or `C` (ask again).
cmd_read() {
  local d; d=$(proc_dir "$1"); need_proc "$d"
  local out=$2 err=$3 max=$4 beat=$SECONDS
  local idle=0.05 ended=0 so se n
  while :; do
    [ -e "$d/exit" ] && ended=1
    { read -r so; read -r se; } < <(stat -c %s -- "$d/stdout" "$d/stderr")
    local sent=0
    while [ "$so" -gt "$out" ]; do
      n=$((so - out)); [ "$n" -gt "$CHUNK" ] && n=$CHUNK
      printf 'O %s ' "$out"; tail -c +$((out + 1)) -- "$d/stdout" | head -c "$n" | b64; printf '\n'
      out=$((out + n)); sent=1
    done
    while [ "$se" -gt "$err" ]; do
      n=$((se - err)); [ "$n" -gt "$CHUNK" ] && n=$CHUNK
      printf 'E %s ' "$err"; tail -c +$((err + 1)) -- "$d/stderr" | head -c "$n" | b64; printf '\n'
      err=$((err + n)); sent=1
    done
    if [ "$ended" = 1 ]; then printf 'X %s\n' "$(cat -- "$d/exit")"; exit 0; fi
    if [ "$SECONDS" -ge "$max" ]; then echo C; exit 0; fi
    if [ "$sent" = 1 ]; then idle=0.05; beat=$SECONDS; continue; fi
    # A heartbeat after 10 s of silence: the client knows the stream is alive.
    if [ $((SECONDS - beat)) -ge 10 ]; then echo H; beat=$SECONDS; fi
    sleep "$idle"
    case $idle in 0.05) idle=0.1 ;; 0.1) idle=0.2 ;; *) idle=0.4 ;; esac
  done
}

cmd_wait() {
  local d; d=$(proc_dir "$1"); need_proc "$d"
  local max=$2 beat=$SECONDS
  while [ ! -e "$d/exit" ]; do
    if [ "$SECONDS" -ge "$max" ]; then echo C; exit 0; fi
    if [ $((SECONDS - beat)) -ge 10 ]; then echo H; beat=$SECONDS; fi
    sleep 0.2
  done
  printf 'X %s\n' "$(cat -- "$d/exit")"
}

# One line per process: P id state exit signal started ended stdout-bytes stderr-bytes
# stdin (none, open:N or closed:N bytes written) base64(command). state: running, exited,
# lost (its runner is gone without an exit).
info_line() {
  local d=$1 id; id=${d##*/}
  [ -e "$d/spec" ] || return 0
  local state=running code=- sig=- ended=- so se stdin=none
  if [ -e "$d/exit" ]; then
    read -r code sig ended < "$d/exit"; state=exited
  elif ! kill -0 "$(cat -- "$d/runner" 2>/dev/null || echo 0)" 2>/dev/null; then
    state=lost
  fi
  { read -r so; read -r se; } < <(stat -c %s -- "$d/stdout" "$d/stderr" 2>/dev/null || printf '0\n0\n')
  if [ -p "$d/stdin" ]; then
    local written; written=$(cat -- "$d/stdin.count" 2>/dev/null || echo 0)
    stdin=open:$written; [ -e "$d/stdin.closed" ] && stdin=closed:$written
  fi
  local -a spec; mapfile -d '' -t spec < "$d/spec"
  local cmd; cmd=$(printf %s "${spec[4]:-}" | b64)
  printf 'P %s %s %s %s %s %s %s %s %s %s\n' "$id" "$state" "$code" "$sig" \
    "$(cat -- "$d/started" 2>/dev/null || echo 0)" "${ended:--}" "${so:-0}" "${se:-0}" "$stdin" "${cmd:--}"
}

cmd_info() { local d; d=$(proc_dir "$1"); need_proc "$d"; info_line "$d"; }

cmd_list() {
  [ -d "$PROCS" ] || exit 0
  local d
  for d in "$PROCS"/*; do [ -d "$d" ] && info_line "$d"; done
  return 0
}

cmd_remove() {
  local d; d=$(proc_dir "$1")
  [ -d "$d" ] || { echo removed; exit 0; }
  if [ ! -e "$d/exit" ] && [ -e "$d/pid" ]; then
    local pid; pid=$(cat -- "$d/pid")
    kill -KILL -- "-$pid" 2>/dev/null
    local i=0
    while [ ! -e "$d/exit" ] && kill -0 "$(cat -- "$d/runner" 2>/dev/null || echo 0)" 2>/dev/null; do
      i=$((i + 1)); [ "$i" -gt 100 ] && break; sleep 0.05
    done
  fi
  rm -rf -- "$d"
  echo removed
}

# ---- files --------------------------------------------------------------------------------

exists() { [ -e "$1" ] || [ -L "$1" ]; }

# type mode size mtime uid gid, a NUL, the link target, a NUL: base64.
cmd_stat() {
  exists "$1" || die "no such file or directory: $1" 3
  find "$1" -maxdepth 0 -printf '%y %m %s %T@ %U %G\0%l\0' | b64
}

# Per entry: type mode size mtime uid gid name, a NUL, the link target, a NUL: base64.
cmd_ls() {
  exists "$1" || die "no such file or directory: $1" 3
  [ -d "$1" ] || die "not a directory: $1" 5
  find "$1" -mindepth 1 -maxdepth 1 -printf '%y %m %s %T@ %U %G %f\0%l\0' | b64
}

cmd_rm() {
  exists "$1" || { [ "$2" = force ] && exit 0; die "no such file or directory: $1" 3; }
  if [ "$2" = recursive ] || [ "$2" = force ]; then rm -rf -- "$1"
  elif [ -d "$1" ] && [ ! -L "$1" ]; then rmdir -- "$1" || die "cannot remove directory $1" 5
  else rm -f -- "$1"; fi
}

cmd_mv() {
  exists "$1" || die "no such file or directory: $1" 3
  mkdir -p -- "$(dirname -- "$2")" && mv -f -T -- "$1" "$2"
}

cmd_mkdir() {
  if [ "$2" = parents ]; then mkdir -p -- "$1"
  else exists "$1" && die "already exists: $1" 4; mkdir -- "$1"; fi
  [ -n "${3:-}" ] && chmod -- "$3" "$1"
  return 0
}

# Small writes: base64url of the bytes in the command, written at OFFSET of a staging
# file (cut there first, so the same write sent again is not written twice).
cmd_put() {
  local stage=$1 offset=$2 data=$3
  [ -e "$stage" ] || die "the staging file $stage is gone" 3
  [ "$(stat -c %s -- "$stage")" -ge "$offset" ] || die "the staging file is shorter than $offset" 5
  truncate -s "$offset" -- "$stage" && printf %s "$data" | unb64 >> "$stage" || die "cannot write $stage"
}

# Staging file for an upload next to its destination, writable by the shell user; prints
# the bytes already in it (an upload resumes from there).
# Also prints where this helper is, for the shell that receives the upload.
cmd_stage() {
  local stage=$1
  mkdir -p -- "$(dirname -- "$stage")" || die "cannot create the directory of $stage"
  [ -e "$stage" ] || : > "$stage" || die "cannot create $stage"
  chmod 666 -- "$stage"
  printf '%s %s\n' "$(stat -c %s -- "$stage")" "$H"
}

# Resume point: stops an earlier receiver, cuts the staging file at OFFSET.
cmd_restage() {
  local stage=$1 offset=$2
  if [ -e "$stage.pid" ]; then kill -KILL "$(cat -- "$stage.pid")" 2>/dev/null; rm -f -- "$stage.pid"; fi
  [ -e "$stage" ] || die "the staging file is gone" 3
  truncate -s "$offset" -- "$stage"
  chmod 666 -- "$stage"
  stat -c %s -- "$stage"
}

# Run in an interactive shell: raw terminal, then chunks, each a 16-byte header (its length
# in decimal, zero-padded, and a newline) and its bytes, appended to STAGE and acknowledged
# with its end offset and SHA-256; a length of 0 ends it.
cmd_recv() {
  local stage=$1 hdr n h off
  off=$(stat -c %s -- "$stage") || die "no staging file $stage" 3
  echo "$$" > "$stage.pid"
  stty raw -echo -iexten -ixon -ixoff -isig -icrnl -istrip cs8 -parenb 2>/dev/null \
    || die "cannot put the terminal in raw mode"
  printf '\nAGENTCORE-%s-READY\n' RECV
  while :; do
    hdr=$(head -c 16) || break
    case $hdr in *[!0-9]*|'') printf 'ERR bad chunk header\n'; stty sane; exit 1 ;; esac
    n=$((10#$hdr))
    [ "$n" = 0 ] && break
    h=$(head -c "$n" | tee -a -- "$stage" | sha; exit "${PIPESTATUS[1]}") \
      || { printf 'ERR cannot write %s\n' "$stage"; stty sane; exit 1; }
    off=$((off + n))
    printf 'ACK %s %s\n' "$off" "$h"
  done
  stty sane 2>/dev/null
  rm -f -- "$stage.pid"
  printf 'AGENTCORE-%s-DONE\n' RECV
}

# Checks the staged upload and moves it into place.
cmd_finish() {
  local stage=$1 dest=$2 size=$3 sum=$4 mode=$5
  if [ ! -e "$stage" ]; then
    # Already moved by an earlier try of this same step.
    [ -e "$dest" ] && [ "$(sha < "$dest")" = "$sum" ] && { echo done; exit 0; }
    die "the staging file $stage is gone" 3
  fi
  local have; have=$(stat -c %s -- "$stage")
  [ "$have" = "$size" ] || die "staged $have bytes, expected $size" 7
  local got; got=$(sha < "$stage")
  [ "$got" = "$sum" ] || die "checksum mismatch: sha256 $got, expected $sum" 7
  if [ "$mode" = - ]; then chmod 644 -- "$stage"; else chmod -- "$mode" "$stage"; fi
  mv -f -T -- "$stage" "$dest" || die "cannot move the upload to $dest"
  echo done
}

# A file's bytes from OFFSET: `S size mode` then base64 and a newline.
cmd_send() {
  local path=$1 off=$2
  [ -e "$path" ] || die "no such file: $path" 3
  [ -f "$path" ] || die "not a regular file: $path" 5
  printf 'S %s\n' "$(stat -c '%s %a' -- "$path")"
  tail -c +$((off + 1)) -- "$path" | b64
  printf '\n'
}

cmd_sum() {
  [ -f "$1" ] || die "no such file: $1" 3
  printf '%s %s\n' "$(stat -c %s -- "$1")" "$(sha < "$1")"
}

# Packs DIR into an archive next to this helper (its directory is this user's own); prints
# the archive's path.
cmd_pack() {
  [ -d "$1" ] || die "no such directory: $1" 3
  valid_id "$2"
  local out="${H%/*}/xfer-$2.tar"
  tar -C "$1" -cf "$out" . || { rm -f -- "$out"; die "cannot pack $1"; }
  printf '%s\n' "$out"
}

# Checks the staged archive, unpacks it into DIR (made if missing), removes it.
cmd_unpack() {
  local stage=$1 dir=$2 size=$3 sum=$4
  [ -e "$stage" ] || { [ -d "$dir" ] && { echo done; exit 0; }; die "the staging file $stage is gone" 3; }
  local have; have=$(stat -c %s -- "$stage")
  [ "$have" = "$size" ] || die "staged $have bytes, expected $size" 7
  local got; got=$(sha < "$stage")
  [ "$got" = "$sum" ] || die "checksum mismatch: sha256 $got, expected $sum" 7
  mkdir -p -- "$dir" && tar -C "$dir" -xpf "$stage" --no-same-owner || die "cannot unpack into $dir"
  rm -f -- "$stage"
  echo done
}

# ---- watch --------------------------------------------------------------------------------
# Polls DIR every INTERVAL seconds. Changes since the previous look are printed as a batch:
# `created|modified|removed TYPE base64(path)` lines, then `B N`; look N is kept in a state
# file. A watch asked again (after a cut) names the last batch it received in full, and the
# changes since that look are reported again, whatever an earlier instance printed into a
# connection that was gone: nothing is lost, nothing counted twice. The newest instance of
# an id takes over (older ones stop). Also `R N` once the first look is taken, `H` after
# 10 s of quiet, `G` when DIR is gone, `C` after MAX seconds.

snapshot() {
  declare -gA cur=()
  local rec
  while IFS= read -r -d '' rec; do
    local meta=${rec%%/*} p=${rec#*/}
    # The SDK's own staging files are not changes anyone made.
    case ${p##*/} in .*.agentcore-upload-*) continue ;; esac
    cur["$p"]=$meta
  done < <(find "$1" -mindepth 1 -printf '%y %s %T@/%P\0' 2>/dev/null)
}

save_look() {
  local -A prev=()
  local k
  for k in "${!cur[@]}"; do prev["$k"]=${cur[$k]}; done
  declare -p prev > "$1.tmp" && mv -f -- "$1.tmp" "$1"
}

cmd_watch() {
  local id=$1 dir=$2 interval=$3 max=$4 seq=${5:-0}
  valid_id "$id"
  case $seq in ''|*[!0-9]*) die "bad batch number" ;; esac
  [ -d "$dir" ] || die "no such directory: $dir" 3
  mkdir -p -- "$STATE/watch" || die "cannot create the watch state"
  local st="$STATE/watch/$id" beat=$SECONDS k owner
  echo "$$" > "$st.pid"
  local -A prev=()
  if [ -e "$st.$seq" ]; then
    source "$st.$seq"
  elif [ "$seq" = 0 ]; then
    snapshot "$dir"
    save_look "$st.0"
    source "$st.0"
  else
    die "the watch's state for batch $seq is gone" 3
  fi
  echo "R $seq"
  while :; do
    sleep "$interval"
    read -r owner < "$st.pid" 2>/dev/null
    [ "${owner:-}" = "$$" ] || exit 0
    snapshot "$dir"
    local events=""
    for k in "${!cur[@]}"; do
      if [ -z "${prev[$k]+x}" ]; then
        events+="created ${cur[$k]%% *} $(printf %s "$k" | b64)"$'\n'
      elif [ "${prev[$k]}" != "${cur[$k]}" ] && [ "${cur[$k]%% *}" != d ]; then
        events+="modified ${cur[$k]%% *} $(printf %s "$k" | b64)"$'\n'
      fi
    done
    for k in "${!prev[@]}"; do
      if [ -z "${cur[$k]+x}" ]; then
        events+="removed ${prev[$k]%% *} $(printf %s "$k" | b64)"$'\n'
      fi
    done
    if [ -n "$events" ]; then
      seq=$((seq + 1))
      save_look "$st.$seq"
      rm -f -- "$st.$((seq - 16))"
      prev=(); for k in "${!cur[@]}"; do prev["$k"]=${cur[$k]}; done
      printf '%sB %s\n' "$events" "$seq"
      beat=$SECONDS
    elif [ $((SECONDS - beat)) -ge 10 ]; then
      echo H; beat=$SECONDS
    fi
    [ ! -d "$dir" ] && { echo G; exit 0; }
    if [ "$SECONDS" -ge "$max" ]; then echo C; exit 0; fi
  done
}

cmd_unwatch() { valid_id "$1"; rm -f -- "$STATE/watch/$1".*; }

sub=${1:-}; [ $# -gt 0 ] && shift
case $sub in
  start) cmd_start "$@" ;;
  run) cmd_run "$@" ;;
  kill) cmd_kill "$@" ;;
  stdin) cmd_stdin "$@" ;;
  close-stdin) cmd_close_stdin "$@" ;;
  read) cmd_read "$@" ;;
  wait) cmd_wait "$@" ;;
  info) cmd_info "$@" ;;
  list) cmd_list ;;
  remove) cmd_remove "$@" ;;
  stat) cmd_stat "$@" ;;
  ls) cmd_ls "$@" ;;
  rm) cmd_rm "$@" ;;
  mv) cmd_mv "$@" ;;
  mkdir) cmd_mkdir "$@" ;;
  put) cmd_put "$@" ;;
  stage) cmd_stage "$@" ;;
  restage) cmd_restage "$@" ;;
  recv) cmd_recv "$@" ;;
  finish) cmd_finish "$@" ;;
  send) cmd_send "$@" ;;
  sum) cmd_sum "$@" ;;
  pack) cmd_pack "$@" ;;
  unpack) cmd_unpack "$@" ;;
  watch) cmd_watch "$@" ;;
  unwatch) cmd_unwatch "$@" ;;
  *) die "unknown subcommand ${sub:-(none)}" ;;
esac
