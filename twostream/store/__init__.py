"""Per-video zip archives (frames, flow) and the resumable per-video jobs that write them."""
