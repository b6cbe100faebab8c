# shellcheck shell=bash
# What deploy.sh and rollback.sh share, sourced by them from their own folder (not run on its
# own): the one sha-<commit> argument, and the image of that commit on this server. They
# define `usage` and `fail` (the message and exit 1) before they call these.

# The script's one argument, `sha-<commit>` or the bare commit (the full 40-character lower-case
# SHA), as the `sha-<commit>` tag in `tag`. `--help` prints the usage and exits 0; anything
# else exits 2, saying why (`script` names the script in the message).
# Usage: commit_tag <script> "$@"
commit_tag() {
  local script="$1"
  shift
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
  esac
  [[ $# -eq 1 ]] || { echo "$script: one argument, the sha-<commit> tag (see --help)" >&2; exit 2; }
  tag="$1"
  [[ "$tag" =~ ^[0-9a-f]{40}$ ]] && tag="sha-$tag"
  if [[ ! "$tag" =~ ^sha-[0-9a-f]{40}$ ]]; then
    echo "$script: '$1' is not sha-<commit> with a full 40-character lower-case commit SHA" >&2
    exit 2
  fi
}

# The image on this server: the local copy when there is one (a sha- tag never changes, so it
# is the very image CD pushed; this works while the registry is down), else `docker pull`.
# Only "no such image" means pull: any other error (no engine answering, say) is reported as it
# is, not hidden behind a pull that fails for the same reason. `step` starts the progress line.
# Usage: fetch_image <step> <image>
fetch_image() {
  local step="$1" image="$2" inspect_error
  if inspect_error="$(docker image inspect "$image" 2>&1 >/dev/null)"; then
    echo "$step $image is on this server: using the local copy (not pulling)"
  elif [[ "${inspect_error,,}" == *"no such image"* ]]; then
    echo "$step $image is not on this server: pulling it"
    docker pull "$image" || fail "cannot pull $image (did CD build this commit? logged in to the registry?)"
  else
    fail "cannot look for $image on this server: $inspect_error"
  fi
}
