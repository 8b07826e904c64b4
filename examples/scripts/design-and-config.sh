#!/bin/sh
# For "design + implementation" tasks of the dev environment: writes the
# design document (as write-doc.sh does) and installs the implementation's
# configuration next to it. Usage:
#   design-and-config.sh DOC CONFIG_SRC CONFIG_DEST TITLE SOURCE [TOPIC...]
# CONFIG_SRC is a folder under marathon/config/; its files are copied into
# CONFIG_DEST (created), replacing what an earlier attempt left there.
set -eu
if [ "$#" -lt 5 ]; then
  echo "usage: design-and-config.sh DOC CONFIG_SRC CONFIG_DEST TITLE SOURCE [TOPIC...]" >&2
  exit 2
fi
doc=$1 src=$2 dest=$3
shift 3
if [ ! -d "$src" ]; then
  echo "design-and-config.sh: no configuration folder $src" >&2
  exit 1
fi
"$(dirname "$0")/write-doc.sh" "$doc" "$@"
rm -rf "$dest.tmp.$$"
mkdir -p "$(dirname "$dest")"
cp -R "$src" "$dest.tmp.$$"
rm -rf "$dest"
mv "$dest.tmp.$$" "$dest"
echo "installed $(find "$dest" -type f | wc -l | tr -d ' ') configuration files in $dest"
