# Shared by the recipes in this directory (sourced, not run). Bash only.
#
# Waiting is level-triggered: a recipe checks the state it waits for, and only then waits for a change, with a
# timeout. The watch (inotifywait -m, which sees other clients' changes through zkfs's inotify replays) is set up
# before the first check, so a change between the check and the wait is not lost; the timeout covers what inotify
# cannot report (changes missed while zkfs was disconnected, a mount with -o noinotify).

die() { echo "${0##*/}: $*" >&2; exit 2; }

# usage TEXT: prints the usage line and exits 2.
usage() { echo "usage: ${0##*/} $*" >&2; exit 2; }

# watch_start DIR: watches DIR for names coming, going and changing; returns once the watch is established.
# One watch per process (a coprocess); a second call replaces the first.
watch_start() {
    watch_stop
    coproc WATCH { exec inotifywait -m -e create,delete,modify,moved_to,moved_from,close_write -- "$1" 2>&1; }
    local line
    while IFS= read -r -u "${WATCH[0]}" line; do
        case $line in
            "Watches established."*) return 0 ;;
            "Setting up watches."*) ;;
            *) echo "${0##*/}: inotifywait: $line" >&2; break ;;
        esac
    done
    watch_stop
    return 1
}

watch_stop() {
    if [ -n "${WATCH_PID:-}" ]; then
        kill "$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
        WATCH_PID=
    fi
}

# watch_wait SECONDS: returns after the next event (and any that follow at once) or after SECONDS. Without a
# working watch it just sleeps, so callers fall back to polling.
watch_wait() {
    local line
    if [ -n "${WATCH_PID:-}" ] && [ -n "${WATCH[0]:-}" ]; then
        if IFS= read -r -t "$1" -u "${WATCH[0]}" line; then
            while IFS= read -r -t 0.02 -u "${WATCH[0]}" line; do :; done
            return 0
        elif (($? > 128)); then
            return 0  # timed out
        fi
        watch_stop  # inotifywait ended (its directory was deleted): poll from now on
    fi
    sleep "$1"
}

# deadline_passed DEADLINE: true once $SECONDS (bash's clock) reaches DEADLINE; a DEADLINE of "" never passes.
deadline_passed() { [ -n "$1" ] && ((SECONDS >= $1)); }

# members_of DIR: the names in DIR, one per line, sorted, without dot names (zkfs's .data, .events).
members_of() {
    local f
    for f in "$1"/*; do
        [ -e "$f" ] && printf '%s\n' "${f##*/}"
    done | LC_ALL=C sort
}

# node_file FILE: makes sure the znode FILE exists as a file on this and every other mount. An empty node without
# children is shown as a directory on a mount that has not seen it otherwise, and a lock on a directory is local
# to one machine, so a lock or election file needs data.
node_file() {
    mkdir -p -- "$(dirname -- "$1")"
    if [ ! -e "$1" ]; then
        # noclobber: O_EXCL, so a racing creator's file is kept (and ours fails: fine).
        (set -C; printf '%s\n' "${1##*/}" > "$1") 2>/dev/null || true
    fi
    [ -f "$1" ] || die "$1 is shown as a directory (an empty znode): locks on directories are local to this machine; use a znode with data"
}

# node_data PATH: prints the data of the znode at PATH, whether the mount shows it as a file or as a directory
# (a node that was empty and childless when this mount first saw it stays a directory; its data is PATH/.data).
node_data() {
    if [ -d "$1" ]; then cat -- "$1/.data"; else cat -- "$1"; fi
}

# supervise SECONDS CHECK COMMAND [ARG]...: runs COMMAND in the background without descriptor 3 (a recipe's held
# file: a daemon closing its descriptors must not drop it) and waits for it, running the command CHECK every
# SECONDS meanwhile. SIGTERM, SIGINT and SIGHUP are passed on to COMMAND (a trap would otherwise wait for a
# foreground COMMAND to end). Returns COMMAND's status.
supervise() {
    local interval=$1 check=$2 child sleeper finished status
    shift 2
    "$@" 3>&- &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT HUP
    while :; do
        sleep "$interval" 3>&- &
        sleeper=$!
        finished=
        wait -n -p finished "$child" "$sleeper" && status=0 || status=$?
        kill "$sleeper" 2>/dev/null || true
        if [ "${finished:-}" = "$child" ]; then
            return "$status"
        elif [ -z "${finished:-}" ] && ! kill -0 "$child" 2>/dev/null; then
            # A trap interrupted the wait and COMMAND ended meanwhile.
            wait "$child" && return 0 || return $?
        fi
        "$check"
    done
}
