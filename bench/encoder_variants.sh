#!/usr/bin/env bash
# Positional variants, losses and the CNN+LSTM backbone at equal training budget, scored on held-out sources.
#
# Every run uses ctk-small's recipe (d_model 128, 3 layers, 4 heads, 5 s crops, album-folder positives with
# 8 views x 8 folders per batch, seed 0) for STEPS steps and changes one thing. Each trained model then embeds
# the HELDOUT folder (sources never trained on) and `ctk evaluate --labels folder` scores it.
#   OUT=runs/variants STEPS=400 bash bench/encoder_variants.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/variants}
TRAIN=${TRAIN:-$CORPUS/train}
HELDOUT=${HELDOUT:-$CORPUS/heldout}
STEPS=${STEPS:-400}
mkdir -p "$OUT"
recipe="--positives folder --views 8 --batch-size 64 --d-model 128 --layers 3 --heads 4 --crop-seconds 5
  --max-steps $STEPS --epochs 100000 --val-every $STEPS --checkpoint-every 100000 --seed ${SEED:-0}"
run() {  # run NAME [ctk train options...]
  local name=$1; shift
  [ -f "$OUT/$name/eval.json" ] && return  # done in an earlier call
  rm -rf "$OUT/$name" "$OUT/lib-$name"
  /usr/bin/time -f "%e s" .venv/bin/ctk train "$TRAIN" --out "$OUT/$name" $recipe "$@" > "$OUT/$name.log" 2>&1 \
    && .venv/bin/ctk embed "$HELDOUT" -L "$OUT/lib-$name" --model "$OUT/$name" >> "$OUT/$name.log" 2>&1 \
    && .venv/bin/ctk evaluate -L "$OUT/lib-$name" --labels folder --json > "$OUT/$name/eval.json" 2>> "$OUT/$name.log" \
    || echo "$name failed: see $OUT/$name.log"
}
for pos in ${POSITIONALS:-alibi2d alibi1d rope1d rope2d learned none}; do run "pos-$pos" --positional "$pos"; done
for loss in ${LOSSES:-barlow skipgram soft-infonce}; do run "loss-$loss" --loss "$loss"; done
run arch-cnn-lstm --arch cnn-lstm
.venv/bin/python bench/encoder_variants_table.py "$OUT"
