#!/bin/sh
# Makes the demo and test clips, H.264 (libx264, main profile, a keyframe
# every 30 frames), Annex-B byte stream, so every access unit boundary is
# real encoder output.
#   tools/make-clip.sh OUT.h264 [SECONDS] [SIZE] [SCENE] [h264|h265]
# (h265: libx265, the same GOP of 30 frames, no B-frames, parameter sets
# with every keyframe)
# SCENE:
#   pattern  a moving test pattern (the default; 4 s of 640x360 at 30 fps)
#   still    a still picture with sensor-like noise: no motion anywhere
#   motion   the same still picture and noise, and a box that crosses it
#            from 7 s to 9 s: one motion event, with 7 s before it
set -eu
out=$1
secs=${2:-4}
size=${3:-640x360}
scene=${4:-pattern}
codec=${5:-h264}
command -v ffmpeg >/dev/null || {
	echo "make-clip: ffmpeg not found; run 'sudo make deps'" >&2
	exit 1
}
still="testsrc2=size=$size:rate=30,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB,noise=alls=6:allf=t"
case $scene in
pattern) graph="testsrc2=size=$size:rate=30" ;;
still) graph="$still" ;;
motion)
	graph="$still[bg];color=c=white:size=96x96:rate=30[box];[bg][box]overlay=x='if(between(t,7,9),(t-7)*(W+96)/2-96,-200)':y=(H-96)/2:shortest=1"
	;;
*)
	echo "make-clip: unknown scene '$scene' (pattern, still or motion)" >&2
	exit 2
	;;
esac
mkdir -p "$(dirname "$out")"
if [ "$codec" = h265 ]; then
	ffmpeg -hide_banner -loglevel error -y \
		-f lavfi -i "$graph" -t "$secs" \
		-c:v libx265 -preset veryfast -pix_fmt yuv420p \
		-x265-params "keyint=30:min-keyint=30:bframes=0:repeat-headers=1:log-level=error" \
		-f hevc "$out.tmp"
else
	ffmpeg -hide_banner -loglevel error -y \
		-f lavfi -i "$graph" -t "$secs" \
		-c:v libx264 -profile:v main -preset veryfast -g 30 -bf 0 \
		-x264-params "repeat-headers=1" -pix_fmt yuv420p \
		-bsf:v h264_mp4toannexb -f h264 "$out.tmp"
fi
mv "$out.tmp" "$out"
