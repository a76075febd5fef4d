#!/usr/bin/env bash
# What the test suite needs from Debian beyond Python: Chromium (browser journeys) and a CJK
# font (Chinese chart labels). As root it installs what is missing through apt; otherwise it
# prints the one command to run and carries on: browser journeys are then skipped and charts
# fall back to English labels. WELLNESS_NO_APT=1 never touches apt.
set -uo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# fc-list's output is read whole first: `fc-list | grep -q` under pipefail fails when grep
# stops reading early (SIGPIPE), which would reinstall a font that is there.
fonts=$(fc-list 2>/dev/null || true)
grep -qi "Noto Sans CJK" <<<"$fonts" || missing+=(fonts-noto-cjk)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && [ "${WELLNESS_NO_APT:-0}" != 1 ] && command -v apt-get >/dev/null; then
  echo "--- installing ${missing[*]} (Debian packages the tests use)"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "!!! apt-get could not install ${missing[*]}; continuing without them" >&2
else
  echo "!!! missing ${missing[*]}: run 'sudo apt-get install ${missing[*]}'" \
       "(browser journeys are skipped and charts use English labels until then)" >&2
fi
exit 0
