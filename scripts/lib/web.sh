# Building the web app (web/app, importing the protocol package web/client as source), shared by
# deploy/local/cluster.sh and scripts/test.sh. Source scripts/lib/common.sh first.

# ensure_node — Node.js ≥ 18.18 and npm, installed with apt-get (Debian 12: Node 18.19) when missing.
ensure_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    local version major minor
    version=$(node --version 2>/dev/null | sed 's/^v//')
    major=${version%%.*}
    minor=$(printf '%s' "$version" | cut -d. -f2)
    if [ "${major:-0}" -lt 18 ] || { [ "$major" = 18 ] && [ "${minor:-0}" -lt 18 ]; }; then
        die "Node.js $version is too old for the web app (needs 18.18 or newer); install a newer nodejs (e.g. from nodesource), or run with --no-web"
    fi
}

# ensure_chromium — Debian's chromium for the browser tests (Playwright cannot download browsers here).
ensure_chromium() {
    [ -x /usr/bin/chromium ] || apt_install chromium
    # Emoji (reactions) in the screenshots instead of empty boxes; the tests do not depend on it.
    [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || (apt_install fonts-noto-color-emoji) ||
        say "fonts-noto-color-emoji could not be installed: emoji show as boxes in the screenshots (the tests still run)"
}

# npm_ci DIR — `npm ci` in DIR unless its node_modules is already newer than package-lock.json (npm rewrites
# node_modules/.package-lock.json on every install), so a second run costs nothing.
npm_ci() {
    local dir=$1
    if [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
        return 0
    fi
    say "npm ci in ${dir#"$ROOT"/} (first time: a minute)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) ||
        die "npm ci in $dir failed (see above); check the npm registry is reachable, then run this again"
}

# build_web_app — npm ci in web/client and web/app, then `npm run build` in web/app (output web/app/dist).
build_web_app() {
    ensure_node
    npm_ci "$ROOT/web/client"
    npm_ci "$ROOT/web/app"
    say "building the web app (npm run build in web/app)"
    (cd "$ROOT/web/app" && npm run build --silent >"${1:-/dev/null}" 2>&1) || {
        [ -n "${1:-}" ] && tail -n 30 "$1" >&2
        die "building the web app failed (see above${1:+ or $1}); fix it, or run with --no-web"
    }
    [ -f "$ROOT/web/app/dist/index.html" ] || die "web/app/dist/index.html is missing after the build; run npm run build in web/app to see why"
}
