"""The citizen portal: organised by life events, never by ministry."""
