"""Dense optical flow: backends, JPEG packing, and temporal-stream stacking."""
