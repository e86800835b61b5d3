#!/bin/sh
# The pare command line: version, help, devices, and usage errors that exit
# 2 with a one-line reason. Usage: test_cli.sh PATH_TO_PARE opencl|reference
set -u
pare="$1"
backend="${2:-opencl}"
fails=0
passes=0
check() { # name, expected exit code, command...
  name="$1"; want="$2"; shift 2
  out=$("$@" 2>&1); got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $name: exit $got, want $want; output: $out"; fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
  LAST="$out"
}
contains() { # name, needle
  case "$LAST" in *"$2"*) passes=$((passes + 1)) ;; *) echo "FAIL $1: no '$2' in: $LAST"; fails=$((fails + 1)) ;; esac
}

check version 0 "$pare" --version; contains version "pare 0."
check help 0 "$pare" help; contains help "devices"
check help-devices 0 "$pare" help devices; contains help-devices "--json"
check devices-help 0 "$pare" devices --help; contains devices-help "usage: pare devices"
check no-args 2 "$pare"
check unknown-command 2 "$pare" frobnicate; contains unknown-command "unknown command 'frobnicate'"
check unknown-flag 2 "$pare" devices --bogus; contains unknown-flag "'--bogus'"
check help-unknown 2 "$pare" help nope; contains help-unknown "'nope'"
lines=$(printf '%s\n' "$LAST" | wc -l)
[ "$lines" -eq 1 ] && passes=$((passes + 1)) || { echo "FAIL usage error is $lines lines"; fails=$((fails + 1)); }
check devices 0 "$pare" devices
if [ "$backend" = opencl ]; then contains devices "profile"; else contains devices "reference backend"; fi
check devices-json 0 "$pare" devices --json; contains devices-json "\"devices\": ["
if command -v python3 >/dev/null; then
  printf '%s' "$LAST" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d["devices"], list)' \
    && passes=$((passes + 1)) || { echo "FAIL devices --json is not valid JSON"; fails=$((fails + 1)); }
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
