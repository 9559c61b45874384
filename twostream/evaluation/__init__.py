"""The test protocol's scores, their files, and the two fusions."""
