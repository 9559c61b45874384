"""Video decoding and the frames stage: each clip's frames as JPEG members of one zip."""
