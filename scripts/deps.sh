#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that ibkey needs, only those missing.
#   scripts/deps.sh run    build and run the app (GL and X11 headers; brotli
#                          for the web app)
#   scripts/deps.sh test   also Xvfb, Chromium, a Secret Service, node (the js/wasm
#                          tests) and tools for the tests (xdotool, xclip and
#                          ImageMagick drive and shoot the app's real window in the
#                          journey test), a JDK, clang and GNUstep's Foundation (the
#                          native apps' bindings: Java run on the JVM, Objective-C
#                          compiled)
set -euo pipefail

pkgs=(gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev
      libxinerama-dev libxi-dev libxxf86vm-dev brotli)
case "${1:-run}" in
run) ;;
test) pkgs+=(xvfb xauth chromium gnome-keyring dbus dbus-x11 fonts-dejavu-core postgresql nodejs xdotool xclip imagemagick
      default-jdk-headless clang libgnustep-base-dev) ;;
*) echo "usage: scripts/deps.sh run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "installing: ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "note: Go is at /usr/local/go/bin; add it to PATH" >&2
fi
