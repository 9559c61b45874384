"""The paper's Tables 1-4 assembled from the score files."""
