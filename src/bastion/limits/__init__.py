"""limits layer."""
