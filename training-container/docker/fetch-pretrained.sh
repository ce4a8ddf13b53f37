#!/usr/bin/env bash
# Image build step: fetches the GluonCV VOC weights into $2 and checks their SHA-1. Never fails the build: when the
# host is unreachable or the file does not match, it logs why and leaves no copy (training then looks for a
# `pretrained` channel, and says how to supply one).
set -uo pipefail
url=$1 dest=$2 file=ssd_512_mobilenet1.0_voc-37c18076.params sha1=37c180765a4eb3e67751d6bacac47bb9156f5fff
mkdir -p "$dest"
work=$(mktemp -d)
if [ -z "$url" ]; then
  echo "pretrained: PRETRAINED_URL is empty; no VOC weights in this image (supply them as the pretrained channel)."
elif ! curl -fsSL --retry 3 --max-time 300 -o "$work/download" "$url"; then
  echo "pretrained: could not download $url; no VOC weights in this image (supply them as the pretrained channel)."
else
  case "$url" in
    *.zip) python -m zipfile -e "$work/download" "$work/unzipped" && find "$work/unzipped" -name '*.params' -exec mv {} "$work/$file" \; ;;
    *) mv "$work/download" "$work/$file" ;;
  esac
  if echo "$sha1  $work/$file" | sha1sum --check --status 2>/dev/null; then
    mv "$work/$file" "$dest/$file"
    echo "pretrained: $dest/$file (sha1 $sha1)"
  else
    echo "pretrained: $url did not yield $file with sha1 $sha1; no VOC weights in this image."
  fi
fi
rm -rf "$work"
exit 0
