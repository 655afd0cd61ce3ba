"""HLS back end: hls4ml projects and their C simulation."""
