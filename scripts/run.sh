#!/usr/bin/env bash
# Runs the assistant: action server (5055), demo clinic page with the chat
# widget (8080) and Rasa (5005, REST + Telegram channels). Called by
# `make run` (and `make shell` with the argument "shell") after training.
# Rasa's port, the demo page's port and the website origins allowed by CORS
# can be changed from the environment; the action server's port is the one in
# endpoints.yml (5055). Every server listens on loopback only by default
# (RASA_INTERFACE, ACTION_INTERFACE, WIDGET_INTERFACE change it): the action
# server has no authentication and must never be reachable from outside;
# in production only the reverse proxy is public (docs/production.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
RASA_PORT=${RASA_PORT:-5005}
ACTION_PORT=5055
WIDGET_PORT=${WIDGET_PORT:-8080}
# Only the clinic's website may call the REST channel from a browser.
ALLOWED_ORIGINS=${ALLOWED_ORIGINS:-http://localhost:$WIDGET_PORT http://127.0.0.1:$WIDGET_PORT}
MODEL=models/botox-faq.tar.gz
export SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

mkdir -p logs
# rasa-sdk takes its interface from SANIC_HOST (its default is 0.0.0.0).
SANIC_HOST="${ACTION_INTERFACE:-127.0.0.1}" $BIN/rasa run actions --port "$ACTION_PORT" > logs/actions.log 2>&1 &
pids+=($!)

if [ "${1:-}" = "shell" ]; then
  echo "Type your questions (Ctrl-D to stop). Action server log: logs/actions.log"
  $BIN/rasa shell --model "$MODEL" --endpoints endpoints.yml
  exit 0
fi

$BIN/python widget/serve.py --host "${WIDGET_INTERFACE:-127.0.0.1}" --port "$WIDGET_PORT" --server "http://localhost:$RASA_PORT" > logs/widget.log 2>&1 &
pids+=($!)

cat <<MSG

  Botox FAQ assistant: Rasa on http://localhost:$RASA_PORT, actions on :$ACTION_PORT
  Website demo with the chat widget:  http://localhost:$WIDGET_PORT
  Ask over REST:
    curl -s -X POST http://localhost:$RASA_PORT/webhooks/rest/webhook \\
         -H 'Content-Type: application/json' \\
         -d '{"sender": "me", "message": "is botox safe?"}'
  Interactive shell instead: make shell       Conversations: conversations.db
  Telegram: docs/telegram.md                  Stop: Ctrl-C

MSG
# shellcheck disable=SC2086
# Loopback only by default: in production a reverse proxy is the public face.
$BIN/rasa run --model "$MODEL" -i "${RASA_INTERFACE:-127.0.0.1}" --port "$RASA_PORT" --endpoints endpoints.yml \
  --credentials credentials.yml --cors $ALLOWED_ORIGINS
