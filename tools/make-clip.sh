#!/bin/sh
# Makes the demo and test clip: 4 s of 640x360 moving test pattern at 30 fps,
# H.264 (libx264, main profile, a keyframe every 30 frames), Annex-B byte
# stream, so every access unit boundary is real encoder output.
#   tools/make-clip.sh OUT.h264 [SECONDS] [SIZE]
set -eu
out=$1
secs=${2:-4}
size=${3:-640x360}
command -v ffmpeg >/dev/null || {
	echo "make-clip: ffmpeg not found; run 'sudo make deps'" >&2
	exit 1
}
mkdir -p "$(dirname "$out")"
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=$size:rate=30" -t "$secs" \
	-c:v libx264 -profile:v main -preset veryfast -g 30 -bf 0 \
	-x264-params "repeat-headers=1" -pix_fmt yuv420p \
	-bsf:v h264_mp4toannexb -f h264 "$out.tmp"
mv "$out.tmp" "$out"
