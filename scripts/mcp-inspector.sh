#!/usr/bin/env bash
# The MCP Inspector (an independent MCP client, from the npm registry), installed
# into a cache outside the repository so a second run installs nothing.
#
#   scripts/mcp-inspector.sh            install it if missing, print the CLI entry
#   scripts/mcp-inspector.sh --check    exit 0 when it is there at its version, 3 otherwise
#
# Use: node "$(scripts/mcp-inspector.sh)" --cli <target> --method tools/list
#
# Environment:
#   MCP_INSPECTOR_VERSION  @modelcontextprotocol/inspector version (1.0.3). The CLI of
#                          1.0.x runs on Node.js 20 and has --header (the bearer token
#                          for /mcp); 0.15 and older lack --header; 2.x declares Node.js
#                          >= 22.19 and pulls in native and web dependencies. 1.0.x gets
#                          security fixes only and says so on stderr.
#   MCP_INSPECTOR_CACHE    cache dir ($XDG_CACHE_HOME or ~/.cache, then
#                          todo-app/mcp-inspector)
#   NPM                    the npm command (npm)
#
# Everything goes to stderr except the CLI entry, which is the only line on stdout.
set -euo pipefail

VERSION="${MCP_INSPECTOR_VERSION:-1.0.3}"
CACHE="${MCP_INSPECTOR_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/todo-app/mcp-inspector}"
NPM="${NPM:-npm}"
PACKAGE="@modelcontextprotocol/inspector"
PREFIX="$CACHE/$VERSION"
ENTRY="$PREFIX/node_modules/$PACKAGE/cli/build/cli.js"

log() { echo "mcp-inspector: $*" >&2; }

installed() {
    [[ -f "$ENTRY" && -f "$PREFIX/.installed" ]]
}

if [[ "${1:-}" == "--check" ]]; then
    installed && exit 0
    exit 3
fi
if [[ $# -gt 0 ]]; then
    log "unknown argument: $1 (use --check or nothing)"
    exit 2
fi

if ! command -v node >/dev/null || ! command -v "$NPM" >/dev/null; then
    log "needs node and npm on PATH (Node.js 20 or newer)"
    exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if (( major < 20 )); then
    log "Node.js $(node --version) is too old: $PACKAGE $VERSION needs 20 or newer"
    exit 1
fi

if ! installed; then
    mkdir -p "$CACHE"
    # One installer at a time (parallel test runs share the cache).
    exec 9>"$CACHE/.lock"
    if command -v flock >/dev/null; then
        flock 9
    fi
    if ! installed; then
        log "installing $PACKAGE@$VERSION into $PREFIX"
        staging="$(mktemp -d "$CACHE/.staging.XXXXXX")"
        trap 'rm -rf "$staging"' EXIT
        echo '{"private": true}' >"$staging/package.json"
        # --ignore-scripts: the CLI needs no install step; nothing from the
        # registry runs at install time. The declared engine (>=22.7.5) is a
        # warning only; the CLI is exercised on Node.js 20 by the tests.
        "$NPM" install --prefix "$staging" --no-audit --no-fund --no-update-notifier \
            --ignore-scripts --save-exact --loglevel=error "$PACKAGE@$VERSION" >&2
        [[ -f "$staging/node_modules/$PACKAGE/cli/build/cli.js" ]] || {
            log "npm installed $PACKAGE@$VERSION but its CLI entry is missing"
            exit 1
        }
        touch "$staging/.installed"
        rm -rf "$PREFIX"
        mv "$staging" "$PREFIX"
        trap - EXIT
    fi
fi

echo "$ENTRY"
