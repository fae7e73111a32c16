#!/usr/bin/env bash
# The whole thing in one step (make run): builds the ibkey command, the
# app and the web app, starts a local IB Key service with a demo account
# (and the web app at /app/, for a phone), and opens the app pointed at it.
# The service stops when the app quits.
#
# State lives in .ibkey-demo/ (the service's database and outbox, the app's
# vault, its keys and its settings); delete it to start afresh. Arguments go
# to the app, e.g.
#   scripts/run.sh --flavor ios
# Environment: GO (the go command), IBKEY_DEMO_DIR (the state folder),
# IBKEY_ADDR (the service's address: 127.0.0.1:8080, else a free port;
# 127.0.0.1:0 always takes a free one; 0.0.0.0:8443 to reach it from a
# phone), IBKEY_SERVE_FLAGS (more flags of ibkey serve, e.g. "--tls-cert
# cert.pem --tls-key key.pem"), IBKEY_WEB=0 (no web app).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
STATE=${IBKEY_DEMO_DIR:-$PWD/.ibkey-demo}
mkdir -p "$STATE/bin"
printf '*\n' >"$STATE/.gitignore" # keep the demo's state out of git
say() { printf 'ibkey-run: %s\n' "$*" >&2; }

say "building the ibkey command and the app"
"$GO" build -o "$STATE/bin/ibkey" ./cmd/ibkey
"$GO" build -o "$STATE/bin/ibkey-app" .
IBKEY=$STATE/bin/ibkey
web=${IBKEY_WEB:-1}
if [ "$web" = 1 ]; then
	say "building the web app (build/web)"
	IBKEY_WEB_BROTLI=${IBKEY_WEB_BROTLI:-5} GO="$GO" scripts/web.sh
fi

# The demo account; an account that exists already is fine.
if ! out=$(printf 'demo-password\n' | "$IBKEY" admin useradd --db "$STATE/service.db" \
	--username demo --phone +15555550100 2>&1); then
	case $out in
	*"exists already"*) ;;
	*) say "creating the demo account failed: $out"; exit 1 ;;
	esac
fi

addr=${IBKEY_ADDR:-127.0.0.1:8080}
if [ -z "${IBKEY_ADDR:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
	say "127.0.0.1:8080 is taken: using a free port"
	addr=127.0.0.1:0
fi
args=(serve --addr "$addr" --db "$STATE/service.db" --outbox "$STATE/outbox.jsonl")
if [ "$web" = 1 ]; then
	args+=(--web "$PWD/build/web")
fi
# shellcheck disable=SC2206 # flags, split on spaces
args+=(${IBKEY_SERVE_FLAGS:-})
# The portal's developer page of the outbox, when this ibkey has it (a
# defined boolean flag lets --help through to "help requested"), on a
# loopback address only: it shows the activation codes.
dev=0
probe=$("$IBKEY" serve --dev-outbox --help 2>&1 || true)
loopback=0
case $addr in 127.*|localhost:*|"[::1]:"*) loopback=1 ;; esac
if [[ $probe == *"help requested"* ]] && [ "$loopback" = 1 ]; then
	args+=(--dev-outbox)
	dev=1
fi

: >"$STATE/serve.url"
"$IBKEY" "${args[@]}" >"$STATE/serve.url" 2>"$STATE/serve.log" &
serve_pid=$!
stop() {
	if kill -0 "$serve_pid" 2>/dev/null; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
		say "service stopped"
	fi
}
trap stop EXIT
trap 'exit 130' INT TERM

url=
for _ in $(seq 100); do
	url=$(head -n1 "$STATE/serve.url")
	[ -n "$url" ] && break
	if ! kill -0 "$serve_pid" 2>/dev/null; then
		say "the service did not start:"
		cat "$STATE/serve.log" >&2
		exit 1
	fi
	sleep 0.1
done
if [ -z "$url" ]; then
	say "the service did not answer in 10 s (log: $STATE/serve.log)"
	exit 1
fi

say "service and Client Portal: $url/  (log: $STATE/serve.log)"
say "demo account: username demo, password demo-password, phone +15555550100"
say "activation codes (SMS and voice) go to: $STATE/outbox.jsonl"
if [ "$dev" = 1 ]; then
	say "  and to the portal's developer page: $url/outbox"
fi
say "try: Add User in the app (demo / demo-password, code from the outbox), then log in"
say "     to the portal as demo and answer its challenge with Generate Response (Generate"
say "     Code on iOS), or approve its login request in the app; Ctrl+Q quits"
if [ "$web" = 1 ]; then
	say "the web app, for a phone: $url/app/  (docs/WEB.md)"
	host=${url#*://}
	host=${host%:*}
	if [ "$loopback" = 1 ]; then
		say "  a phone needs HTTPS on a name it trusts (IBKEY_ADDR=0.0.0.0:8443 with"
		say "  IBKEY_SERVE_FLAGS='--tls-cert cert.pem --tls-key key.pem', or a tunnel), or"
		say "  localhost on the phone (Android: adb reverse tcp:${url##*:} tcp:${url##*:})"
	elif [ "$host" = 0.0.0.0 ] || [ "$host" = "[::]" ]; then
		for ip in $(hostname -I 2>/dev/null); do
			say "  on this network: ${url%%://*}://$ip:${url##*:}/app/"
		done
	fi
fi

# The app's environment. The demo's vault keeps its keys in a file beside
# it, not in the OS keyring: no keyring prompt, and nothing left in the
# keyring. Fyne keeps the app's settings (Look, Language, Theme, Auto-lock)
# in $XDG_CONFIG_HOME/fyne/io.github.ibkey/preferences.json on Linux: in
# the state folder, so that deleting it starts afresh.
appenv=(IBKEY_SECRET_STORE=file "XDG_CONFIG_HOME=$STATE/config")
# A C locale with a character set (C.UTF-8, the default of containers)
# means no language, but Fyne reads it as a language called "C" and logs
# "Error parsing user locale C" at every start: name English for it.
case ${LC_ALL:-${LC_MESSAGES:-${LANG:-}}} in
C.* | POSIX.*) [ -n "${LANGUAGE:-}" ] || appenv+=(LANGUAGE=en) ;;
esac
env "${appenv[@]}" "$STATE/bin/ibkey-app" --vault "$STATE/vault" --service "$url" "$@"
