#!/usr/bin/env bash
# Assemble benchmarks/RESULTS.md from the summary and the per-area reports in benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")"
{
  cat results/_summary.md
  for part in foundation speaker_encoder vits_export dsp_clone enrollment learned_stage_rp identity_ecapa learned_streaming \
              multispeaker bench device-runtime serve_memory litert_encoder litert_voice; do
    echo
    echo "---"
    echo
    # demote headings by one level so the summary stays the only top-level title
    # and rewrite links relative to benchmarks/ (../../docs → ../docs, bench-x86.json → results/…)
    sed -E -e 's/^#/##/' -e 's@\]\(\.\./\.\./@](../@g' \
      -e 's@\]\(([A-Za-z0-9_.-]+\.(json|png|md))\)@](results/\1)@g' "results/$part.md"
  done
} > RESULTS.md
echo "wrote benchmarks/RESULTS.md"
