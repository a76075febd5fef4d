#!/usr/bin/env bash
# The last step of `make run`: the scheduler process beside gunicorn. Ctrl-C stops gunicorn
# (it receives the terminal's SIGINT itself) and then the scheduler; nothing is left running.
# Usage: scripts/serve.sh BIN_DIR PORT WORKERS
set -u
bin=$1 port=$2 workers=$3

"$bin/flask" scheduler run &
scheduler=$!
stop_scheduler() {
  kill -TERM "$scheduler" 2>/dev/null
  wait "$scheduler" 2>/dev/null
}
trap stop_scheduler EXIT
trap 'exit 0' INT TERM

"$bin/gunicorn" --workers "$workers" --bind "127.0.0.1:$port" --access-logfile - 'wellness:create_app()'
