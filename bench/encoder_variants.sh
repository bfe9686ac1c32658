#!/usr/bin/env bash
# Positional variants and losses of the encoder at equal training budget (40 steps of 64 fragments,
# the ctk-small architecture), compared on same-track retrieval of the validation fragments.
cd "$(dirname "$0")/.."
mkdir -p "${OUT:-runs/variants}"
common="--max-steps 40 --val-every 20 --checkpoint-every 1000 --d-model 128 --layers 3 --heads 4 --crop-seconds 5 --batch-size 64 --seed 0"
for pos in alibi2d alibi1d rope1d rope2d learned none; do
  /usr/bin/time -f "%e s" .venv/bin/ctk train ${TRAIN:-/work/corpus/train} --out ${OUT:-runs/variants}/pos-$pos --positional $pos $common > ${OUT:-runs/variants}/pos-$pos.log 2>&1
done
for loss in barlow skipgram soft-infonce; do
  /usr/bin/time -f "%e s" .venv/bin/ctk train ${TRAIN:-/work/corpus/train} --out ${OUT:-runs/variants}/loss-$loss --loss $loss $common > ${OUT:-runs/variants}/loss-$loss.log 2>&1
done
.venv/bin/python bench/encoder_variants_table.py "${OUT:-runs/variants}"
