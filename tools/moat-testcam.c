// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-testcam: an IP camera for tests and the demo. GStreamer's RTSP
 * server (gst-rtsp-server, a real third-party implementation) serves an
 * Annex-B H.264 file at its frame rate over RTSP, TCP-interleaved only,
 * optionally behind digest authentication, the way a cheap IP camera
 * serves its main stream.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

static GMainLoop *loop;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: moat-testcam --file CLIP.h264 [--port 8554] [--path /cam]\n"
		"                    [--fps 30] [--user NAME --password WORD] [--loop]\n"
		"                    [--codec h264|h265] [--sub-file CLIP [--sub-path /sub]]\n"
		"                    [--phone-home ADDRESS]\n"
		"\n"
		"Serves an Annex-B H.264 or H.265 file (--codec; by default H.265\n"
		"when the name ends in .hevc or .h265) over RTSP (TCP interleaved) with\n"
		"GStreamer's RTSP server, paced at --fps, as an IP camera would:\n"
		"rtsp://ADDRESS:PORT/PATH. With --user and --password, clients\n"
		"must answer a digest challenge. --loop replays the file for as\n"
		"long as a client watches; without it the stream ends with the file.\n"
		"Each client gets the file from the start. --sub-file serves a second\n"
		"file (a camera's low-resolution substream) at --sub-path on the same\n"
		"port, same codec. --phone-home ADDRESS makes it behave as the\n"
		"cameras moat walls off do: once a second it tries TCP to ADDRESS\n"
		"port 443 and a DNS query to ADDRESS port 53. Stops on SIGINT/SIGTERM.\n");
}

static gboolean on_signal(gpointer data)
{
	(void)data;
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

/* What a cheap camera does behind its owner's back: its vendor's cloud
 * over HTTPS, and DNS on the way. Each try is let go at once. */
static gboolean phone_home(gpointer data)
{
	static const uint8_t query[] = { 0x6d, 0x6f, 1, 0, 0, 1, 0, 0, 0, 0,
					 0, 0, 5, 'c', 'l', 'o', 'u', 'd', 0,
					 0, 1, 0, 1 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	int t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0),
	    u = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, data, &a.sin_addr);
	a.sin_port = htons(443);
	if (t >= 0 && connect(t, (struct sockaddr *)&a, sizeof(a)) < 0 &&
	    errno != EINPROGRESS)
		fprintf(stderr, "phone-home: %s:443: %s\n", (char *)data,
			strerror(errno));
	a.sin_port = htons(53);
	if (u >= 0)
		sendto(u, query, sizeof(query), 0, (struct sockaddr *)&a,
		       sizeof(a));
	if (t >= 0)
		close(t);
	if (u >= 0)
		close(u);
	return G_SOURCE_CONTINUE;
}

static void add_auth(GstRTSPServer *srv, const char *user, const char *pass)
{
	GstRTSPAuth *auth = gst_rtsp_auth_new();
	GstRTSPToken *token;

	gst_rtsp_auth_set_supported_methods(auth, GST_RTSP_AUTH_DIGEST);
	token = gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE,
				   G_TYPE_STRING, "viewer", NULL);
	gst_rtsp_auth_add_digest(auth, user, pass, token);
	gst_rtsp_token_unref(token);
	gst_rtsp_server_set_auth(srv, auth);
	g_object_unref(auth);
}

static void allow_viewer(GstRTSPMediaFactory *f)
{
	gst_rtsp_media_factory_add_role(f, "viewer",
					GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
					G_TYPE_BOOLEAN, TRUE,
					GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
					G_TYPE_BOOLEAN, TRUE, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "path", required_argument, NULL, 'a' },
		{ "fps", required_argument, NULL, 'r' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'w' },
		{ "loop", no_argument, NULL, 'l' },
		{ "codec", required_argument, NULL, 'c' },
		{ "sub-file", required_argument, NULL, 's' },
		{ "sub-path", required_argument, NULL, 'S' },
		{ "phone-home", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *file = NULL, *port = "8554", *path = "/cam", *user = NULL,
		   *pass = NULL, *codec = NULL, *sub_file = NULL,
		   *sub_path = "/sub", *home = NULL;
	int fps = 30, c, loop_clip = 0;
	GstRTSPServer *srv;
	GstRTSPMediaFactory *f;
	GstRTSPMountPoints *mounts;
	char launch[4096];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'a':
			path = optarg;
			break;
		case 'r':
			fps = atoi(optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 'w':
			pass = optarg;
			break;
		case 'l':
			loop_clip = 1;
			break;
		case 'c':
			codec = optarg;
			break;
		case 's':
			sub_file = optarg;
			break;
		case 'S':
			sub_path = optarg;
			break;
		case 'P':
			home = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!codec && file) {
		size_t n = strlen(file);

		codec = n > 5 && (!strcmp(file + n - 5, ".hevc") ||
				  !strcmp(file + n - 5, ".h265")) ?
				"h265" :
				"h264";
	}
	if (!file || fps < 1 || fps > 240 || path[0] != '/' ||
	    (strcmp(codec, "h264") && strcmp(codec, "h265")) ||
	    !user != !pass || strchr(file, '"') || access(file, R_OK) ||
	    (sub_file && (strchr(sub_file, '"') || access(sub_file, R_OK) ||
			  sub_path[0] != '/' || !strcmp(sub_path, path)))) {
		if (file && access(file, R_OK))
			fprintf(stderr, "moat-testcam: cannot read %s\n", file);
		usage(stderr);
		return 2;
	}
	gst_init(&argc, &argv);
	loop = g_main_loop_new(NULL, FALSE);
	srv = gst_rtsp_server_new();
	gst_rtsp_server_set_service(srv, port);
	/*
	 * h264parse stamps the elementary stream at --fps; the payloader
	 * sends the clip's NAL units as they are (config-interval=0: the
	 * clip carries SPS/PPS in every keyframe), so what a client records
	 * can be compared with the file byte for byte.
	 */
	if (user)
		add_auth(srv, user, pass);
	mounts = gst_rtsp_server_get_mount_points(srv);
	for (int k = 0; k < (sub_file ? 2 : 1); k++) {
		snprintf(launch, sizeof(launch),
			 "( %s location=\"%s\" %s "
			 "! video/x-%s,stream-format=byte-stream,framerate=%d/1 "
			 "! %sparse ! rtp%spay name=pay0 pt=96 config-interval=0 )",
			 loop_clip ? "multifilesrc" : "filesrc",
			 k ? sub_file : file, loop_clip ? "loop=true" : "",
			 codec, fps, codec, codec);
		f = gst_rtsp_media_factory_new();
		gst_rtsp_media_factory_set_launch(f, launch);
		gst_rtsp_media_factory_set_protocols(f, GST_RTSP_LOWER_TRANS_TCP);
		gst_rtsp_media_factory_set_shared(f, FALSE);
		if (user)
			allow_viewer(f);
		gst_rtsp_mount_points_add_factory(mounts, k ? sub_path : path, f);
	}
	g_object_unref(mounts);
	if (!gst_rtsp_server_attach(srv, NULL)) {
		fprintf(stderr, "moat-testcam: cannot listen on port %s\n",
			port);
		return 1;
	}
	g_unix_signal_add(SIGINT, on_signal, NULL);
	g_unix_signal_add(SIGTERM, on_signal, NULL);
	if (home) {
		struct in_addr chk;

		if (inet_pton(AF_INET, home, &chk) != 1) {
			fprintf(stderr, "moat-testcam: --phone-home: `%s' is not an IPv4 address\n",
				home);
			return 2;
		}
		g_timeout_add_seconds(1, phone_home, (gpointer)home);
	}
	printf("moat-testcam: rtsp://0.0.0.0:%s%s serving %s\n", port, path,
	       file);
	fflush(stdout);
	g_main_loop_run(loop);
	g_object_unref(srv);
	g_main_loop_unref(loop);
	return 0;
}
