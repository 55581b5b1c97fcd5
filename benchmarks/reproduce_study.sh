#!/usr/bin/env bash
# The study of QuadraticAdversarial's variants in docs/results.md:
#
#   benchmarks/reproduce_study.sh DATA_DIR OUT_DIR [screening|train|evaluate]
#
# With no third argument every stage runs, in order. DATASETS="mnist" (or
# "fashion_mnist") restricts it to one dataset, so the two can run side by
# side.
#
# 1. Screening (benchmarks/quadreg_study.py): every variant with a reduced
#    recipe (3 epochs on the first 20,000 MNIST training images, epsilon 0.3
#    ramped over 2), scored with PGD-20 and APGD-CE on training images
#    50,000-50,499, which no screening run trains on.
# 2. The two best variants with the full recipe of benchmarks/reproduce.sh
#    (8 epochs, ramp 3, batch 128, seed 0) on MNIST (l_inf 0.3) and
#    Fashion-MNIST (l_inf 0.1), with standard training in the same comparison
#    for the time ratio. All six models are trained first, one after the other,
#    so that training times are measured on an otherwise idle machine; the
#    evaluations (FGSM, PGD-40, AutoAttack, SPSA on 100 images, the gradient-
#    masking checks) then run through `quadreg compare`, which reuses the
#    trained run folders. Everything finished is reused, so an interrupted run
#    continues where it stopped.
set -euo pipefail
data=${1:?data directory with mnist/ and fashion_mnist/}
out=${2:?output directory}
stage=${3:-all}
run() { [[ $stage == all || $stage == "$1" ]]; }

if run screening; then
  python benchmarks/quadreg_study.py --data-dir "$data" --out "$out/screening"
fi

k2=quadreg:expansion_point=random,objective=adversarial,hvp=secant,iterations=2
k3=quadreg:expansion_point=random,objective=adversarial,hvp=secant,iterations=3
recipe=(--epochs 8 --ramp-epochs 3 --batch-size 128 --seed 0 --val-limit 1000 --verbose 2)
eval=(--attacks fgsm pgd:steps=40 autoattack spsa@100 --masking --sweep --no-interpretability)

folder() { echo "$1" | sed 's/:/-/; s/,/-/g'; }   # quadreg compare's label() of a spec
train() {  # dataset epsilon spec
  local name=${3%%:*} options=${3#*:} flags=()
  if [[ $options != "$3" ]]; then
    for kv in ${options//,/ }; do key=${kv%%=*}; flags+=("--${key//_/-}" "${kv#*=}"); done
  fi
  [[ -f $out/$1/$(folder "$3")/model.keras ]] && return
  python -m keras_quadreg train --dataset "$1" --epsilon "$2" --data-dir "$data" "${recipe[@]}" \
    --method "$name" "${flags[@]}" --out "$out/$1/$(folder "$3")"
}
declare -A epsilon=([mnist]=0.3 [fashion_mnist]=0.1) examples=([mnist]=500 [fashion_mnist]=500)
for dataset in ${DATASETS:-mnist fashion_mnist}; do
  if run train; then
    for spec in standard "$k2" "$k3"; do train "$dataset" "${epsilon[$dataset]}" "$spec"; done
  fi
  if run evaluate; then
    python -m keras_quadreg compare --dataset "$dataset" --epsilon "${epsilon[$dataset]}" --data-dir "$data" \
      "${recipe[@]}" "${eval[@]}" --num-examples "${examples[$dataset]}" --out "$out/$dataset" \
      --methods standard "$k2" "$k3"
  fi
done
