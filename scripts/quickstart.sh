#!/usr/bin/env bash
# Installs avspl1t's dependencies (Node.js 24 included, see scripts/node-env.sh), generates a
# 10 s 640x360 sample with audio and encodes it to an AV1 HLS stream with the embedded
# coordinator and local workers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
source scripts/node-env.sh
npm ci --no-audit --no-fund
npm run build
node bin/avspl1t.js --version
mkdir -p sample
if [ ! -s sample/sample.mp4 ]; then
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=640x360:rate=30:duration=10" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=10" \
    -c:v libx264 -preset veryfast -g 60 -c:a aac -shortest sample/sample.mp4
fi
node bin/avspl1t.js encode sample/sample.mp4 sample/hls --seconds-per-segment 2
