"""What the networks read: crops, flow stacks, training samples and their GPU decoding."""
