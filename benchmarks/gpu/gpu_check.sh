#!/usr/bin/env bash
# The GPU figures of docs/gpu.md on one GPU, side by side with reference H200 measurements (code of commit
# 589613c) and with pythae 0.1.2: RHVAE / VAE steps and their arithmetic floor at 84x104x89 and
# 169x208x179 (eager, CUDA graph, torch.compile), bf16, peak memory, Conv5_FC3 A1 / A2 settings one by
# one, latent HMC with batched chains on the device (and its CPU figure against main's code).
#
#   benchmarks/gpu/gpu_check.sh                 # on the GPU machine: about 6-8 min on one H200
#   benchmarks/gpu/gpu_check.sh --cpu-smoke     # anywhere: tiny sizes on the CPU, < 1 min; proves the script
#                                           # (one run per code path: eager, the CUDA-graph fallback, bf16,
#                                           # HMC against main, Conv5_FC3; the other runs print "skipped")
#
# Options: --out DIR (logs and JSON; default /tmp/gpu_check). When $OUT is set (the device tool's
# folder of files that come back), the logs and JSON are also packed into $OUT/gpu_check.tgz and the
# table is copied to $OUT/summary.txt (that folder takes only a few files).
# Environment: PYTHON (default python3); PYTHAE_WHEELS (default .whl): a folder of wheels holding
# pythae 0.1.2 and pydantic 2.x (pydantic, pydantic_core, annotated_types, typing_inspection) for the
# device's Python; they are installed with --no-index into a private folder used for the pythae runs
# only. If that fails, the pythae figures print as "pythae: not measured".
# Each benchmark runs under `timeout` with its own limit, cut to what is left of a total budget
# (GPU_CHECK_BUDGET seconds, default 450); a benchmark that finds under 10 s left is skipped, so the
# whole check ends within about 8 min (expected: about 6 min).
set -u
cd "$(dirname "$0")/../.."

MODE=gpu
OUT_DIR=/tmp/gpu_check
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-smoke|--dry-run) MODE=cpu ;;
    --out) OUT_DIR="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
STARTED=$(date +%s)

if [ "$MODE" = gpu ]; then
  DEV=cuda; S1="84 104 89"; S2="169 208 179"; B=8; B_BIG=16; B_S1_BIG=32
  STEPS=5; HMC_STEPS=300; HMC_LF=15; HMC_CENTROIDS=1000; HMC_MANY=10000
  A1=""; A2=""; CLS_B1=16; CLS_B2=32; LONG=120
else
  DEV=cpu; S1="16 20 16"; S2="20 24 20"; B=2; B_BIG=2; B_S1_BIG=4
  STEPS=3; HMC_STEPS=3; HMC_LF=3; HMC_CENTROIDS=100; HMC_MANY=200
  A1="--shape 24 28 24"; A2="--shape 20 24 20"; CLS_B1=2; CLS_B2=2; LONG=60
  export OMP_NUM_THREADS=1
fi

echo "== gpu_check ($MODE) $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
"$PY" - <<'EOF'
import platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA available {torch.cuda.is_available()}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"device {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# --- pythae 0.1.2 in a private folder, from wheels only ---
PYTHAE_PATH=""
WHEELS="${PYTHAE_WHEELS:-.whl}"
if ls "$WHEELS"/pythae-0.1.2-*.whl >/dev/null 2>&1 \
   && "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_check_pythae \
        "$WHEELS"/*.whl >"$OUT_DIR/pythae_install.log" 2>&1 \
   && PYTHONPATH="/tmp/gpu_check_pythae:$PYTHONPATH" "$PY" -c "import pythae, pydantic; assert pydantic.VERSION.startswith('2')" \
        >>"$OUT_DIR/pythae_install.log" 2>&1; then
  PYTHAE_PATH="/tmp/gpu_check_pythae"
  echo "pythae: 0.1.2 installed from $WHEELS"
else
  echo "pythae: not measured (no installable pythae 0.1.2 + pydantic 2.x wheels in $WHEELS; see $OUT_DIR/pythae_install.log)"
fi

# bench NAME LIMIT_S [env ...] -- command...: run under timeout, log to OUT_DIR/NAME.log
BUDGET="${GPU_CHECK_BUDGET:-450}"
bench() {
  local name="$1" limit="$2"; shift 2
  local elapsed=$(( $(date +%s) - STARTED ))
  local left=$(( BUDGET - elapsed ))
  if [ "$left" -lt 10 ]; then echo; echo "== $name: skipped, the ${BUDGET}s budget is spent"; return 0; fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo; echo "== $name (limit ${limit}s, ${elapsed}s so far)"
  timeout "$limit" "$@" 2>&1 | grep -v -e "FutureWarning" -e "^  check(" | tee "$OUT_DIR/$name.log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && echo "$name: exit $rc (124: over its ${limit}s limit)"
  return 0
}
rhvae() {  # rhvae NAME LIMIT [args...]: benchmarks.speed.rhvae_step, with pythae on the path when it is there
  local name="$1" limit="$2"; shift 2
  if [ -n "$PYTHAE_PATH" ]; then
    bench "$name" "$limit" env PYTHONPATH="$PYTHAE_PATH:$PYTHONPATH" "$PY" -m benchmarks.speed.rhvae_step \
      --device "$DEV" --steps "$STEPS" --json "$OUT_DIR/$name.json" "$@"
  else
    bench "$name" "$limit" "$PY" -m benchmarks.speed.rhvae_step --device "$DEV" --steps "$STEPS" \
      --json "$OUT_DIR/$name.json" --skip-pythae "$@"
  fi
}

# gpu_only NAME: true (and says so) when NAME is skipped in the CPU smoke run
gpu_only() { [ "$MODE" = cpu ] && { echo; echo "== $1: skipped in --cpu-smoke"; return 0; }; return 1; }

# --- RHVAE / VAE / floor / pythae (goals 1 and 2) ---
rhvae rhvae_s1_eager 90 --shape $S1 --batch-size $B
gpu_only rhvae_s1_cudagraph || rhvae rhvae_s1_cudagraph 90 --shape $S1 --batch-size $B --mode cudagraph --skip-pythae
gpu_only rhvae_s2_eager || rhvae rhvae_s2_eager 120 --shape $S2 --batch-size $B
# the CPU smoke run takes this one for the CUDA-graph fallback path
rhvae rhvae_s2_cudagraph 90 --shape $S2 --batch-size $B --mode cudagraph --skip-pythae
gpu_only rhvae_s1_b32 || rhvae rhvae_s1_b32 60 --shape $S1 --batch-size $B_S1_BIG --gradient exact --skip-floor --skip-pythae --cudnn-benchmark
gpu_only rhvae_s2_b16 || rhvae rhvae_s2_b16 60 --shape $S2 --batch-size $B_BIG --gradient exact --skip-floor --skip-pythae
rhvae rhvae_s2_b16_bf16 60 --shape $S2 --batch-size $B_BIG --gradient exact --skip-floor --skip-pythae --bf16

# --- latent HMC (goal 3): CPU figure against main's code, then the device ---
bench hmc_cpu 90 "$PY" -m benchmarks.speed.latent_hmc --device cpu --threads 1 --chains 50 --steps $HMC_STEPS \
  --leapfrog $HMC_LF --centroids $HMC_CENTROIDS --repeats 2 --json "$OUT_DIR/hmc_cpu.json"
if [ "$MODE" = gpu ]; then
  bench hmc_gpu_50 60 "$PY" -m benchmarks.speed.latent_hmc --device cuda --chains 50 --steps $HMC_STEPS --leapfrog $HMC_LF \
    --centroids $HMC_CENTROIDS --repeats 1 --chunk-elements 2147483648 --json "$OUT_DIR/hmc_gpu_50.json"
fi
gpu_only hmc_gpu_10000 || bench hmc_gpu_10000 60 "$PY" -m benchmarks.speed.latent_hmc --device "$DEV" --chains $HMC_MANY --steps $HMC_STEPS \
  --leapfrog $HMC_LF --centroids $HMC_CENTROIDS --repeats 1 --skip-main --chunk-elements 2147483648 \
  --json "$OUT_DIR/hmc_gpu_10000.json"

# --- Conv5_FC3 (goal 4): each setting alone against fp32 ---
bench classifier_a1 90 "$PY" -m benchmarks.speed.classifier_step --device "$DEV" --variant A1 $A1 --batch-size $CLS_B1 \
  --steps $STEPS --json "$OUT_DIR/classifier_a1.json"
gpu_only classifier_a2 || bench classifier_a2 60 "$PY" -m benchmarks.speed.classifier_step --device "$DEV" --variant A2 $A2 --batch-size $CLS_B2 \
  --steps $STEPS --json "$OUT_DIR/classifier_a2.json"

# --- last, so that the budget cuts it first ---
# torch.compile: the exact gradient's double backward is not supported by aot_autograd (printed); approximate
# only. Skipped in the CPU smoke run: inductor's C++ build alone takes minutes on a small CPU.
gpu_only rhvae_s1_compile || rhvae rhvae_s1_compile "$LONG" --shape $S1 --batch-size $B --mode compile --gradient approximate --skip-floor --skip-pythae

echo; echo "== summary ($(( $(date +%s) - STARTED )) s in all)"
if [ "$MODE" = gpu ]; then
  "$PY" -m benchmarks.gpu.gpu_check_summary "$OUT_DIR" | tee "$OUT_DIR/summary.txt"
else
  "$PY" -m benchmarks.gpu.gpu_check_summary "$OUT_DIR" --cpu-smoke | tee "$OUT_DIR/summary.txt"
fi
if [ -n "${OUT:-}" ] && [ -d "$OUT" ] && [ "$OUT" != "$OUT_DIR" ]; then
  tar czf "$OUT/gpu_check.tgz" -C "$OUT_DIR" . && cp "$OUT_DIR/summary.txt" "$OUT/summary.txt"
fi
