"""The videos and official splits: download, unpack, parse, check, and the generated stand-ins."""
