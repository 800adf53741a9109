// SPDX-License-Identifier: GPL-2.0-only
/* moatctl cameras: the local cameras this machine has (docs/CAMERAS.md). */
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/libcam.h"
#include "capture/m2m.h"
#include "capture/v4l2.h"
#include "capture/v4l2cam.h"
#include "common/sbuf.h"
#include "tools/moatctl/cmds.h"

static void camera_json(struct sbuf *b, const char *path,
			const struct v4l2_info *in, const char *plan,
			uint32_t take)
{
	char fc[5];

	sb_printf(b, "{\"device\": \"%s\", \"driver\": \"", path);
	sb_json_str(b, in->driver);
	sb_printf(b, "\", \"card\": \"");
	sb_json_str(b, in->card);
	v4l2_fourcc_str(take, fc);
	sb_printf(b, "\", \"capture\": %s, \"encoder\": %s, \"plan\": \"%s\", \"takes\": \"%s\", \"formats\": [",
		  in->capture && !in->m2m ? "true" : "false",
		  in->m2m ? "true" : "false", plan, take ? fc : "");
	for (unsigned int i = 0; i < in->n_fmts; i++) {
		const struct v4l2_format_info *f = &in->fmts[i];

		v4l2_fourcc_str(f->fourcc, fc);
		sb_printf(b, "%s{\"fourcc\": \"", i ? ", " : "");
		sb_json_str(b, fc);
		sb_printf(b, "\", \"sizes\": [");
		for (unsigned int k = 0; k < f->n_sizes; k++)
			sb_printf(b, "%s{\"width\": %u, \"height\": %u, \"fps\": %u}",
				  k ? ", " : "", f->sizes[k].width,
				  f->sizes[k].height, f->sizes[k].fps_max);
		sb_printf(b, "]}");
	}
	sb_printf(b, "]}");
}

static void camera_text(struct sbuf *b, const char *path,
			const struct v4l2_info *in, const char *plan)
{
	char fc[5];

	sb_printf(b, "%s  %s (%s)\n  moat: %s\n", path, in->card, in->driver,
		  plan);
	for (unsigned int i = 0; i < in->n_fmts; i++) {
		const struct v4l2_format_info *f = &in->fmts[i];

		v4l2_fourcc_str(f->fourcc, fc);
		sb_printf(b, "    %-4s %-30s", fc, f->desc);
		for (unsigned int k = 0; k < f->n_sizes && k < 6; k++)
			sb_printf(b, " %ux%u%s", f->sizes[k].width,
				  f->sizes[k].height, f->stepwise ? " max" : "");
		if (f->n_sizes && f->sizes[0].fps_max)
			sb_printf(b, " (up to %u fps)", f->sizes[0].fps_max);
		sb_printf(b, "\n");
	}
}

/* What a libcamera: camera would do: the format the shim would take
 * (its order: NV12, YUV420, YUYV, then packed RGB), or NULL. */
static const char *libcam_takes(const struct libcam_info *in)
{
	static const uint32_t order[] = { V4L2_PIX_FMT_NV12,
					  V4L2_PIX_FMT_YUV420,
					  V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_RGB24,
					  V4L2_PIX_FMT_BGR24 };

	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (unsigned int i = 0; i < in->n_formats; i++)
			if (in->fourcc[i] == order[o])
				return in->format_name[i];
	return NULL;
}

static void libcam_json(struct sbuf *b, const struct libcam_info *in)
{
	const char *take = libcam_takes(in);

	sb_printf(b, "{\"libcamera\": \"");
	sb_json_str(b, in->id);
	sb_printf(b, "\", \"model\": \"");
	sb_json_str(b, in->model);
	sb_printf(b, "\", \"source\": \"libcamera:");
	sb_json_str(b, in->id);
	sb_printf(b, "\", \"plan\": \"%s%s\", \"takes\": \"%s\", \"formats\": [",
		  take ? take : "nothing moat takes",
		  take ? " into libx264" : "", take ? take : "");
	for (unsigned int i = 0; i < in->n_formats; i++) {
		sb_printf(b, "%s{\"format\": \"", i ? ", " : "");
		sb_json_str(b, in->format_name[i]);
		sb_printf(b, "\", \"max_width\": %u, \"max_height\": %u}",
			  in->max_w[i], in->max_h[i]);
	}
	sb_printf(b, "]}");
}

static void libcam_text(struct sbuf *b, const struct libcam_info *in)
{
	const char *take = libcam_takes(in);

	sb_printf(b, "libcamera: %s%s%s%s\n  moat: source = libcamera:%s; %s%s\n",
		  in->id, in->model[0] ? " (" : "", in->model,
		  in->model[0] ? ")" : "", in->id,
		  take ? take : "nothing moat takes", take ? " into libx264" : "");
	for (unsigned int i = 0; i < in->n_formats; i++)
		sb_printf(b, "    %-12s up to %ux%u\n", in->format_name[i],
			  in->max_w[i], in->max_h[i]);
}

/* Every V4L2 device, and what moat would do with it; then every camera
 * libcamera finds (a Pi camera module's nodes are among the V4L2
 * devices too, but only libcamera can drive them). */
int cameras_cmd(int argc, char **argv, bool json)
{
	struct sbuf b = { 0 };
	int n = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json")) {
			fprintf(stderr, "moatctl: cameras: unexpected `%s'\n%s",
				argv[i], moatctl_usage);
			return 2;
		}
		json = true;
	}
	/* encoder = auto takes the first H.264 encoder for raw cameras */
	char hw[32] = "", hw_card[40] = "";

	m2m_find(V4L2_PIX_FMT_H264, 0, hw, sizeof(hw), hw_card,
		 sizeof(hw_card));
	if (json)
		sb_printf(&b, "[");
	for (int i = 0; i < 64; i++) {
		static struct v4l2_info in;
		char path[32], buf[200];
		const char *plan;
		uint32_t take;
		int fd;

		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (v4l2_query(fd, &in)) {
			close(fd);
			continue;
		}
		close(fd);
		plan = v4l2cam_plan(&in, &take);
		if (in.m2m) {
			plan = !m2m_probe(path, V4L2_PIX_FMT_H264, 0, NULL, 0) ?
				       "an H.264 encoder: raw cameras use it (encoder = auto), their frames imported, its output sealed in place" :
			       !m2m_probe(path, V4L2_PIX_FMT_FWHT, 0, NULL, 0) ?
				       "an FWHT encoder (vicodec, a test codec no viewer plays): used only by a camera that names it (encoder = PATH)" :
				       "a memory-to-memory device that makes no H.264: not used";
		} else if (hw[0] && strstr(plan, "libx264")) {
			char fc[5];

			/* the encoder reads NV12 and YUYV as they are */
			v4l2_fourcc_str(take, fc);
			snprintf(buf, sizeof(buf),
				 "%s into the V4L2 encoder %s (%s; libx264 with encoder = libx264)",
				 fc, hw, hw_card);
			plan = buf;
		}
		if (json) {
			sb_printf(&b, "%s\n  ", n ? "," : "");
			camera_json(&b, path, &in, plan, take);
		} else {
			camera_text(&b, path, &in, plan);
		}
		n++;
	}
	{
		static struct libcam_info lc[16];
		char why[256] = "";
		int k = libcam_list(lc, 16, why, sizeof(why));

		for (int i = 0; i < k; i++, n++) {
			if (json) {
				sb_printf(&b, "%s\n  ", n ? "," : "");
				libcam_json(&b, &lc[i]);
			} else {
				libcam_text(&b, &lc[i]);
			}
		}
		if (k < 0 && !json)
			sb_printf(&b, "libcamera: %s\n", why);
	}
	if (json)
		sb_printf(&b, "%s]\n", n ? "\n" : "");
	else if (!n)
		sb_printf(&b, "no local cameras here: no V4L2 devices (no /dev/video*), and libcamera finds none\n");
	fputs(b.p ? b.p : "", stdout);
	free(b.p);
	return 0;
}

