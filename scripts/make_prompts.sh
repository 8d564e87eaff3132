#!/usr/bin/env bash
# Voice-menu prompts: real speech made from services/menu/prompt_texts/<lang>.txt
# by espeak-ng (voice <lang>), as 8 kHz mono G.711 in both laws
# (<name>.ul for PCMU, <name>.al for PCMA) under OUT/<lang>/ (default
# .cache/prompts). No dither and sox's repeatable mode: the same texts and
# versions give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.cache/prompts}
tmp=$(mktemp --suffix=.wav)
trap 'rm -f "$tmp"' EXIT
for texts in services/menu/prompt_texts/*.txt; do
    lang=$(basename "$texts" .txt)
    mkdir -p "$out/$lang"
    while IFS='|' read -r name text; do
        [[ -z $name || $name == \#* ]] && continue
        espeak-ng -v "$lang" -s 150 -w "$tmp" "$text"
        sox -q -R -D "$tmp" -r 8000 -c 1 -t ul "$out/$lang/$name.ul"
        sox -q -R -D "$tmp" -r 8000 -c 1 -t al "$out/$lang/$name.al"
    done < "$texts"
done
